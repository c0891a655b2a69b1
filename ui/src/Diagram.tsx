import { Background, Handle, Position, ReactFlow, useReactFlow, useStore, type Edge, type Node, type NodeProps } from "@xyflow/react";
import { memo, useCallback, useEffect, useMemo, useRef } from "react";
import { rendered } from "./activity";
import type { Phase } from "./bindings/Phase";
import type { ServiceDrift } from "./bindings/ServiceDrift";
import type { ServiceNode } from "./bindings/ServiceNode";
import { CONDITION_LABEL, envBadge, fraction, imageTag, LAYERS, layout, serviceStatus, type Containers } from "./state";
import { useUsage, type UsageStore } from "./usage";

type ServiceData = {
  svc: ServiceNode;
  status: string;
  label: string;
  badge: string | null;
  tag: string;
  ports: string[];
  selected: boolean;
  onSelect: (service: string) => void;
  /** The container whose resource use the node shows (its worst replica, when it runs). */
  running?: string;
  usage: UsageStore;
  drift?: ServiceDrift;
};

/** A service's node; drawn again only when what it shows changed (see `Diagram`). */
const ServiceCard = memo(function ServiceCard({ data }: NodeProps<Node<ServiceData>>) {
  rendered("ServiceCard");
  return (
    <div
      className={`svc svc-${data.status}${data.selected ? " svc-selected" : ""}${data.drift?.verdict === "drift" ? " svc-drift" : ""}`}
      data-testid={`node-${data.svc.name}`}
      data-status={data.status}
      data-drift={data.drift?.verdict ?? "unknown"}
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
        <span>
          {data.drift?.verdict === "drift" && (
            <span className="badge badge-drift" data-testid={`drift-${data.svc.name}`} title={`Not what the environment asks for: ${data.drift.summary}`}>
              drift
            </span>
          )}{" "}
          {data.badge && <span className={`badge badge-${data.badge}`}>{data.badge}</span>}
        </span>
      </div>
      <div className="svc-state">
        <span className="dot" /> {data.label}
      </div>
      <div className="svc-meta">
        {data.tag && <span title="image tag">:{data.tag}</span>}
        {data.ports.length > 0 && <span title="ports">{data.ports.join(" ")}</span>}
      </div>
      {data.running && <Gauges svc={data.svc} container={data.running} usage={data.usage} />}
      <Handle type="source" position={Position.Top} />
    </div>
  );
});

/** A running container's CPU and memory against its service's limits: drawn again only when a
 * sample of it comes (the app sends one only when it moves a gauge visibly). */
function Gauges({ svc, container, usage }: { svc: ServiceNode; container: string; usage: UsageStore }) {
  rendered("Gauges");
  const u = useUsage(usage, container);
  if (!u) return null;
  const cpu = u.cpu.at(-1) ?? 0;
  const memory = u.memory.at(-1) ?? 0;
  return (
    <div className="gauges">
      <Gauge label="CPU" value={fraction(cpu, (svc.cpu_limit ?? 0) * 100)} title={`${cpu.toFixed(1)}% of ${svc.cpu_limit ?? "-"} CPU`} />
      <Gauge
        label="MEM"
        value={fraction(memory, svc.memory_limit)}
        warn={u.nearLimit}
        title={`${Math.round(memory / 1048576)} MiB of ${svc.memory_limit ? Math.round(svc.memory_limit / 1048576) + " MiB" : "no limit"}`}
      />
    </div>
  );
}

function Gauge({ label, value, warn, title }: { label: string; value: number; warn?: boolean; title: string }) {
  return (
    <div className={`gauge${warn ? " gauge-warn" : ""}`} title={title} data-testid={`gauge-${label.toLowerCase()}`} data-value={value.toFixed(2)}>
      <span>{label}</span>
      <div className="gauge-bar">
        <div style={{ width: `${Math.round(value * 100)}%` }} />
      </div>
    </div>
  );
}

function LayerLabel({ data }: NodeProps<Node<{ label: string }>>) {
  return <div className="layer-label">{data.label}</div>;
}

const nodeTypes = { service: ServiceCard, layer: LayerLabel };

/** Never zoom in past 1:1: the whole stack, at most at its natural size. */
const FIT = { maxZoom: 1, padding: 0.12 };

/** Keeps the whole stack in view when the pane changes size (a panel opens, the window resizes). */
function FitOnResize({ count }: { count: number }) {
  const { fitView } = useReactFlow();
  const width = useStore((s) => s.width);
  const height = useStore((s) => s.height);
  useEffect(() => {
    if (width <= 0 || height <= 0) return;
    // After the layout settles (a panel opening or closing resizes the pane in several steps,
    // and a busy machine reports the last one late): once soon, once more when it has settled.
    const soon = setTimeout(() => void fitView(FIT), 60);
    const settled = setTimeout(() => void fitView(FIT), 400);
    return () => {
      clearTimeout(soon);
      clearTimeout(settled);
    };
  }, [fitView, width, height, count]);
  return null;
}
const ORIGIN = { x: 0, y: 0 };

/** Whether two nodes' data draw the same (every field the same value or object). */
function sameData(a: ServiceData, b: ServiceData): boolean {
  const keys = Object.keys(a) as (keyof ServiceData)[];
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

const NODE_WIDTH = 210;
const NODE_HEIGHT = 108;
/** Handle places given up front, so that edges draw without measuring the DOM. */
const HANDLES = [
  { type: "source" as const, position: Position.Top, x: NODE_WIDTH / 2 - 3, y: -3, width: 6, height: 6 },
  { type: "target" as const, position: Position.Bottom, x: NODE_WIDTH / 2 - 3, y: NODE_HEIGHT - 3, width: 6, height: 6 },
];

export function Diagram(props: {
  services: ServiceNode[];
  containers: Containers;
  progress: Record<string, Phase>;
  usage: UsageStore;
  selected: string | null;
  planned: boolean;
  onSelect: (service: string | null) => void;
  drift?: Record<string, ServiceDrift>;
  /** Called once the diagram is on screen (after the frame that draws it). */
  onDrawn?: () => void;
}) {
  rendered("Diagram");
  const { services, containers, progress, usage, selected, planned, onSelect, drift, onDrawn } = props;
  useEffect(() => {
    // The first frame lays the diagram out, the next one shows it.
    let frame = requestAnimationFrame(() => {
      frame = requestAnimationFrame(() => onDrawn?.());
    });
    return () => cancelAnimationFrame(frame);
  }, [onDrawn]);
  const positions = useMemo(() => layout(services), [services]);
  const labels: Node[] = useMemo(() => {
    const left = Math.min(...Object.values(positions).map((p) => p.x)) - 150;
    return LAYERS.filter((layer) => services.some((s) => s.layer === layer)).map((layer) => ({
      id: `layer-${layer}`,
      type: "layer",
      position: { x: left, y: (positions[services.find((s) => s.layer === layer)?.name ?? ""]?.y ?? 0) + 30 },
      data: { label: layer },
      width: 120,
      height: 24,
      draggable: false,
      selectable: false,
    }));
  }, [services, positions]);
  // The nodes drawn last time: a node whose data did not change is given to React Flow as the
  // same object, so that only the nodes that changed are drawn again.
  const drawn = useRef(new Map<string, Node<ServiceData>>());
  const nodes: Node<ServiceData>[] = services.map((svc) => {
    const info = serviceStatus(svc, containers, progress[svc.name]);
    const c = info.container;
    const position = positions[svc.name] ?? ORIGIN;
    const data: ServiceData = {
      svc,
      status: info.status,
      label: info.label,
      badge: envBadge(svc, c),
      tag: imageTag(c?.image ?? svc.image),
      ports: svc.ports,
      selected: svc.name === selected,
      onSelect,
      running: c?.state === "running" ? c.name : undefined,
      usage,
      drift: drift?.[svc.name],
    };
    const before = drawn.current.get(svc.name);
    if (before && before.position === position && sameData(before.data, data)) return before;
    return {
      id: svc.name,
      type: "service",
      position,
      // Known dimensions: nodes show (and the view fits) without waiting for a measurement.
      width: NODE_WIDTH,
      height: NODE_HEIGHT,
      handles: HANDLES,
      data,
      draggable: false,
    };
  });
  drawn.current = new Map(nodes.map((n) => [n.id, n]));
  const edges: Edge[] = useMemo(
    () =>
      services.flatMap((svc) =>
        svc.depends_on.map((d) => ({
          id: `${svc.name}->${d.target}`,
          source: d.target,
          target: svc.name,
          label: CONDITION_LABEL[d.condition],
          className: `edge-${CONDITION_LABEL[d.condition]}`,
          animated: progress[svc.name] !== undefined && progress[d.target] !== undefined,
        })),
      ),
    [services, progress],
  );
  // The same list while no node changed, so that React Flow has nothing to update.
  const list = useRef<Node[]>([]);
  const next = [...labels, ...nodes];
  if (next.length !== list.current.length || next.some((n, i) => n !== list.current[i])) list.current = next;
  const clearSelection = useCallback(() => onSelect(null), [onSelect]);
  return (
    <div className={`diagram${planned ? " diagram-planned" : ""}`} data-testid="diagram">
      <ReactFlow
        nodes={list.current}
        edges={edges}
        nodeTypes={nodeTypes}
        fitView
        fitViewOptions={FIT}
        nodesConnectable={false}
        onPaneClick={clearSelection}
        proOptions={{ hideAttribution: true }}
      >
        <Background gap={24} />
        <FitOnResize count={services.length} />
      </ReactFlow>
    </div>
  );
}
