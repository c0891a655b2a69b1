import { Background, Handle, Position, ReactFlow, useReactFlow, useStore, type Edge, type Node, type NodeProps } from "@xyflow/react";
import { useEffect, useMemo } from "react";
import type { ServiceNode } from "./bindings/ServiceNode";
import { envBadge, imageTag, LAYERS, layout, nodeStatus, type Containers } from "./state";

type ServiceData = {
  svc: ServiceNode;
  status: string;
  label: string;
  badge: string | null;
  tag: string;
  ports: string[];
  selected: boolean;
  onSelect: (service: string) => void;
};

function ServiceCard({ data }: NodeProps<Node<ServiceData>>) {
  return (
    <div
      className={`svc svc-${data.status}${data.selected ? " svc-selected" : ""}`}
      data-testid={`node-${data.svc.name}`}
      data-status={data.status}
      role="button"
      tabIndex={0}
      aria-label={`${data.svc.name}: ${data.label}`}
      onClick={() => data.onSelect(data.svc.name)}
      onKeyDown={(e) => {
        if (e.key === "Enter" || e.key === " ") data.onSelect(data.svc.name);
      }}
    >
      {/* Edges run from a dependency (below) up to what depends on it. */}
      <Handle type="target" position={Position.Bottom} />
      <div className="svc-head">
        <span className="svc-name">{data.svc.name}</span>
        {data.badge && <span className={`badge badge-${data.badge}`}>{data.badge}</span>}
      </div>
      <div className="svc-state">
        <span className="dot" /> {data.label}
      </div>
      <div className="svc-meta">
        {data.tag && <span title="image tag">:{data.tag}</span>}
        {data.ports.length > 0 && <span title="ports">{data.ports.join(" ")}</span>}
      </div>
      <Handle type="source" position={Position.Top} />
    </div>
  );
}

function LayerLabel({ data }: NodeProps<Node<{ label: string }>>) {
  return <div className="layer-label">{data.label}</div>;
}

const nodeTypes = { service: ServiceCard, layer: LayerLabel };

/** Keeps the whole stack in view when the pane changes size (a panel opens, the window resizes). */
function FitOnResize({ count }: { count: number }) {
  const { fitView } = useReactFlow();
  const width = useStore((s) => s.width);
  const height = useStore((s) => s.height);
  useEffect(() => {
    if (width <= 0 || height <= 0) return;
    // After the layout settles (a panel opening resizes the pane in several steps).
    const t = setTimeout(() => void fitView(), 60);
    return () => clearTimeout(t);
  }, [fitView, width, height, count]);
  return null;
}
const NODE_WIDTH = 210;
const NODE_HEIGHT = 92;
/** Handle places given up front, so that edges draw without measuring the DOM. */
const HANDLES = [
  { type: "source" as const, position: Position.Top, x: NODE_WIDTH / 2 - 3, y: -3, width: 6, height: 6 },
  { type: "target" as const, position: Position.Bottom, x: NODE_WIDTH / 2 - 3, y: NODE_HEIGHT - 3, width: 6, height: 6 },
];

export function Diagram(props: {
  services: ServiceNode[];
  containers: Containers;
  progress: Record<string, string>;
  selected: string | null;
  planned: boolean;
  onSelect: (service: string | null) => void;
}) {
  const { services, containers, progress, selected, planned, onSelect } = props;
  const positions = useMemo(() => layout(services), [services]);
  const left = Math.min(...Object.values(positions).map((p) => p.x)) - 150;
  const labels: Node[] = LAYERS.filter((layer) => services.some((s) => s.layer === layer)).map((layer) => ({
    id: `layer-${layer}`,
    type: "layer",
    position: { x: left, y: (positions[services.find((s) => s.layer === layer)?.name ?? ""]?.y ?? 0) + 30 },
    data: { label: layer },
    width: 120,
    height: 24,
    draggable: false,
    selectable: false,
  }));
  const nodes: Node<ServiceData>[] = services.map((svc) => {
    const c = containers[svc.name];
    const info = nodeStatus(svc, c, progress[svc.name]);
    return {
      id: svc.name,
      type: "service",
      position: positions[svc.name] ?? { x: 0, y: 0 },
      // Known dimensions: nodes show (and the view fits) without waiting for a measurement.
      width: NODE_WIDTH,
      height: NODE_HEIGHT,
      handles: HANDLES,
      data: {
        svc,
        status: info.status,
        label: info.label,
        badge: envBadge(svc, c),
        tag: imageTag(c?.image ?? svc.image),
        ports: svc.ports,
        selected: svc.name === selected,
        onSelect,
      },
      draggable: false,
    };
  });
  const edges: Edge[] = services.flatMap((svc) =>
    svc.dependsOn.map((d) => ({
      id: `${svc.name}->${d.target}`,
      source: d.target,
      target: svc.name,
      label: d.condition,
      className: `edge-${d.condition}`,
      animated: progress[svc.name] !== undefined && progress[d.target] !== undefined,
    })),
  );
  return (
    <div className={`diagram${planned ? " diagram-planned" : ""}`} data-testid="diagram">
      <ReactFlow
        nodes={[...labels, ...nodes]}
        edges={edges}
        nodeTypes={nodeTypes}
        fitView
        nodesConnectable={false}
        onPaneClick={() => onSelect(null)}
        proOptions={{ hideAttribution: true }}
      >
        <Background gap={24} />
        <FitOnResize count={services.length} />
      </ReactFlow>
    </div>
  );
}
