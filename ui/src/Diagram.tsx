import { Background, Handle, Position, ReactFlow, type Edge, type Node, type NodeProps } from "@xyflow/react";
import { useMemo } from "react";
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
};

function ServiceCard({ data }: NodeProps<Node<ServiceData>>) {
  return (
    <div
      className={`svc svc-${data.status}${data.selected ? " svc-selected" : ""}`}
      data-testid={`node-${data.svc.name}`}
      data-status={data.status}
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
      data: {
        svc,
        status: info.status,
        label: info.label,
        badge: envBadge(svc, c),
        tag: imageTag(c?.image ?? svc.image),
        ports: svc.ports,
        selected: svc.name === selected,
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
        onNodeClick={(_, n) => n.type === "service" && onSelect(n.id)}
        onPaneClick={() => onSelect(null)}
        proOptions={{ hideAttribution: true }}
      >
        <Background gap={24} />
      </ReactFlow>
    </div>
  );
}
