import { Background, BaseEdge, Handle, MarkerType, MiniMap, Position, ReactFlow, type Edge, type EdgeProps, type Node, type NodeProps, type Viewport } from "@xyflow/react";
import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { rendered } from "./activity";
import type { Phase } from "./bindings/Phase";
import type { Reach } from "./bindings/Reach";
import type { ServiceDrift } from "./bindings/ServiceDrift";
import type { ServiceNode } from "./bindings/ServiceNode";
import { elkRun } from "./elk";
import { computeLayout, fitViewport, storedLayout, GUTTER, NODE_HEIGHT, NODE_WIDTH, roundedPath, type EdgeRoute, type Layout } from "./layout";
import { envBadge, fraction, imageTag, serviceStatus, type Containers, type Known } from "./state";
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
  return <Card data={data} live />;
});

/** A service's card: in React Flow's node, with the handles its edges end on; or in the first
 * frame, without them and without test ids (those are the live diagram's). */
function Card({ data, live }: { data: ServiceData; live?: boolean }) {
  return (
    <div
      className={`svc svc-${data.status}${data.selected ? " svc-selected" : ""}${data.drift?.verdict === "drift" ? " svc-drift" : ""}`}
      data-testid={live ? `node-${data.svc.name}` : undefined}
      data-status={data.status}
      data-drift={data.drift?.verdict ?? "unknown"}
      role="button"
      tabIndex={0}
      onClick={() => data.onSelect(data.svc.name)}
      onKeyDown={(e) => {
        if (e.key === "Enter" || e.key === " ") data.onSelect(data.svc.name);
      }}
    >
      {/* Edges run from a dependency (below) up to what depends on it. */}
      {live && <Handle type="target" position={Position.Bottom} />}
      <div className="svc-head">
        <span className="svc-name" title={data.svc.name}>{data.svc.name}</span>
        <span>
          {data.drift?.verdict === "drift" && (
            <span className="badge badge-drift" data-testid={live ? `drift-${data.svc.name}` : undefined} title={`Not what the environment asks for: ${data.drift.summary}`}>
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
      {live && <Handle type="source" position={Position.Top} />}
    </div>
  );
}

/** A running container's CPU and memory against its service's limits: drawn again only when a
 * sample of it comes (the app sends one only when it moves a gauge visibly). */
export function Gauges({ svc, container, usage }: { svc: ServiceNode; container: string; usage: UsageStore }) {
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

function LayerLabel({ data }: { data: { label: string } }) {
  return <div className="layer-label">{data.label}</div>;
}

type RouteData = { route: EdgeRoute; reach?: Reach };

/** A connectivity check's result in words (the edge's hover, the side panel). */
export function reachText(r: Reach): string {
  switch (r.kind) {
    case "reachable":
      return `reachable on port ${r.port}`;
    case "refused":
      return `refused on port ${r.port}: nothing listens there`;
    case "noName":
      return "no name: it does not resolve from the dependent";
    case "unreachable":
      return `unreachable on port ${r.port}${r.detail ? `: ${r.detail}` : ""}`;
    case "unchecked":
      return `not checked: ${r.why}`;
  }
}

/** The key of an edge's check: dependent, then dependency. */
export const edgeKey = (from: string, to: string) => `${from}>${to}`;

/** What an edge's condition means, said in full on hover. */
const CONDITION_MEANING: Record<string, string> = { started: "started", healthy: "healthy", completed: "completed successfully" };

/** A dependency's edge along the route ELK gave it, its condition in the place ELK kept free
 * for it (and said in full on hover). */
function RouteEdge({ id, data, markerEnd }: EdgeProps<Edge<RouteData>>) {
  if (!data) return null;
  return (
    <>
      <BaseEdge id={id} path={roundedPath(data.route.points)} markerEnd={markerEnd} />
      <EdgeLabel {...data} live />
    </>
  );
}

/** An edge's condition in the place ELK kept free for it, said in full on hover. */
function EdgeLabel({ route, reach, live }: RouteData & { live?: boolean }) {
  const l = route.label;
  if (!l) return null;
  const checked = reach ? `. From inside ${route.target}: ${reachText(reach)}` : "";
  return (
    <g className="edge-label" data-testid={live ? `edge-label-${route.target}-${route.source}` : undefined} data-reach={reach?.kind} transform={`translate(${l.x},${l.y})`}>
      <title>{`${route.target} starts once ${route.source} is ${CONDITION_MEANING[route.condition] ?? route.condition}${checked}`}</title>
      <rect width={l.width} height={l.height} rx={4} />
      <text x={l.width / 2} y={l.height / 2} dominantBaseline="central" textAnchor="middle">
        {route.condition}
      </text>
    </g>
  );
}

/** The diagram's first frame, drawn without React Flow, whose first render is the longest
 * step of a launch: the same cards, layer names, edges and background in the same places, with
 * the classes React Flow gives them (so they look the same). React Flow takes over once it is
 * on screen. */
function FirstFrame({ viewport, nodes, edges }: { viewport: Viewport; nodes: Node[]; edges: Edge<RouteData>[] }) {
  const gap = 24 * viewport.zoom;
  const dot = viewport.zoom / 2;
  const fill = { position: "absolute", width: "100%", height: "100%", top: 0, left: 0 } as const;
  return (
    <div className="react-flow" data-testid="first-frame" style={{ ...fill, overflow: "hidden", zIndex: 0 }}>
      {/* (Background's dots: its pattern, its place.) */}
      <svg className="react-flow__background" style={fill}>
        <pattern id="first-frame-dots" x={viewport.x % gap} y={viewport.y % gap} width={gap} height={gap} patternUnits="userSpaceOnUse" patternTransform={`translate(-${gap / 2},-${gap / 2})`}>
          <circle cx={dot} cy={dot} r={dot} className="react-flow__background-pattern dots" />
        </pattern>
        <rect x="0" y="0" width="100%" height="100%" fill="url(#first-frame-dots)" />
      </svg>
      <div className="react-flow__viewport react-flow__container" style={{ transform: `translate(${viewport.x}px,${viewport.y}px) scale(${viewport.zoom})` }}>
        <div className="react-flow__edges">
          <svg>
            <defs>
              <marker id="first-frame-arrow" className="react-flow__arrowhead" markerWidth="14" markerHeight="14" viewBox="-10 -10 20 20" markerUnits="strokeWidth" orient="auto-start-reverse" refX="0" refY="0">
                <polyline className="arrowclosed" style={{ strokeWidth: 1, stroke: "#b1b1b7", fill: "#b1b1b7" }} strokeLinecap="round" strokeLinejoin="round" points="-5,-4 0,0 -5,4 -5,-4" />
              </marker>
            </defs>
            {edges.map((e) => (
              <g key={e.id} className={`react-flow__edge ${e.className ?? ""}`}>
                {e.data && <path className="react-flow__edge-path" d={roundedPath(e.data.route.points)} markerEnd="url(#first-frame-arrow)" />}
                {e.data && <EdgeLabel {...e.data} />}
              </g>
            ))}
          </svg>
        </div>
        {nodes.map((n) => (
          <div key={n.id} className={`react-flow__node react-flow__node-${n.type}`} style={{ transform: `translate(${n.position.x}px,${n.position.y}px)`, width: n.width, height: n.height }}>
            {n.type === "service" ? <Card data={n.data as ServiceData} /> : <LayerLabel data={n.data as { label: string }} />}
          </div>
        ))}
      </div>
    </div>
  );
}

/** An edge's class for its last check: reachable, not reachable, or not checked. */
function reachClass(r: Reach | undefined): string {
  if (!r) return "";
  if (r.kind === "reachable") return " edge-reachable";
  return r.kind === "unchecked" ? " edge-unchecked" : " edge-unreachable";
}

const nodeTypes = { service: ServiceCard, layer: LayerLabel };
const edgeTypes = { route: RouteEdge };
const ARROW = { type: MarkerType.ArrowClosed, width: 14, height: 14 };

/** The stack's layout, computed again when its services change (none while it is computed);
 * one computed before is used in the same render. */
function useLayout(services: ServiceNode[]): Layout | null {
  const stored = useMemo(() => storedLayout(services, window.localStorage), [services]);
  const [done, setDone] = useState<{ services: ServiceNode[]; layout: Layout } | null>(null);
  useEffect(() => {
    if (stored) return;
    let live = true;
    computeLayout(services, elkRun, window.localStorage)
      .then((layout) => live && setDone({ services, layout }))
      .catch((e) => console.error("layout failed", e));
    return () => {
      live = false;
    };
  }, [services, stored]);
  return stored ?? (done?.services === services ? done.layout : null);
}

/** The pane's size in pixels, followed as it changes (a panel opens, the window resizes). */
function usePaneSize(): [React.RefObject<HTMLDivElement | null>, { width: number; height: number } | null] {
  const ref = useRef<HTMLDivElement>(null);
  const [size, setSize] = useState<{ width: number; height: number } | null>(null);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    // Measured now, before the first frame is painted (the observer reports it a frame later);
    // the pane has no border or padding, so this is the box the observer reports.
    const { width, height } = el.getBoundingClientRect();
    setSize({ width, height });
    const observer = new ResizeObserver(([entry]) => {
      const { width, height } = entry.contentRect;
      setSize((s) => (s && s.width === width && s.height === height ? s : { width, height }));
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  return [ref, size];
}

const ORIGIN = { x: 0, y: 0 };

/** Whether two nodes' data draw the same (every field the same value or object). */
function sameData(a: ServiceData, b: ServiceData): boolean {
  const keys = Object.keys(a) as (keyof ServiceData)[];
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/** Handle places given up front, so that edges draw without measuring the DOM (ELK routes the
 * edges; the handles are not shown). */
const HANDLES = [
  { type: "source" as const, position: Position.Top, x: NODE_WIDTH / 2 - 3, y: -3, width: 6, height: 6 },
  { type: "target" as const, position: Position.Bottom, x: NODE_WIDTH / 2 - 3, y: NODE_HEIGHT - 3, width: 6, height: 6 },
];

export function Diagram(props: {
  services: ServiceNode[];
  containers: Containers;
  progress: Record<string, Phase>;
  known: Known;
  usage: UsageStore;
  selected: string | null;
  planned: boolean;
  onSelect: (service: string | null) => void;
  drift?: Record<string, ServiceDrift>;
  /** Called once the diagram is on screen (after the frame that draws it). */
  onDrawn?: () => void;
  /** The last connectivity check of each edge, by `edgeKey`. */
  reach?: Record<string, Reach>;
}) {
  rendered("Diagram");
  const { services, containers, progress, known, usage, selected, planned, onSelect, drift, onDrawn, reach } = props;
  const layout = useLayout(services);
  const [pane, size] = usePaneSize();
  const laidOut = layout !== null && size !== null;
  // Drawn first without React Flow (`FirstFrame`), which takes over once that is on screen.
  const [live, setLive] = useState(false);
  useEffect(() => {
    if (!laidOut) return;
    performance.mark("deck:laid-out");
    // The first frame lays the diagram out, the next one shows it.
    let frame = requestAnimationFrame(() => {
      frame = requestAnimationFrame(() => {
        onDrawn?.();
        setLive(true);
      });
    });
    return () => cancelAnimationFrame(frame);
  }, [onDrawn, laidOut]);

  // The view: the whole stack fitted to the pane whenever the pane or the layout changes; when a
  // stack is too big to read whole, the readable view around the selected node, with a minimap.
  // Panning or zooming by hand holds until the next change.
  const focus = selected && layout?.nodes[selected] ? layout.nodes[selected] : undefined;
  const focusX = focus ? focus.x + NODE_WIDTH / 2 : undefined;
  const focusY = focus ? focus.y + NODE_HEIGHT / 2 : undefined;
  const fitted = useMemo(() => {
    if (!layout || !size || size.width <= 0 || size.height <= 0) return null;
    const at = focusX !== undefined && focusY !== undefined ? { x: focusX, y: focusY } : undefined;
    return fitViewport(layout.bounds, size.width, size.height, at);
  }, [layout, size, focusX, focusY]);
  const [panned, setPanned] = useState<{ base: Viewport; view: Viewport } | null>(null);
  const viewport = panned && panned.base === fitted ? panned.view : fitted;
  const onViewportChange = useCallback((view: Viewport) => fitted && setPanned({ base: fitted, view }), [fitted]);

  const labels: Node[] = useMemo(
    () =>
      (layout?.layers ?? []).map((l) => ({
        id: `layer-${l.layer}`,
        type: "layer",
        position: { x: l.x, y: l.y },
        data: { label: l.layer },
        width: GUTTER - 20,
        height: 16,
        draggable: false,
        selectable: false,
      })),
    [layout],
  );
  // The nodes drawn last time: a node whose data did not change is given to React Flow as the
  // same object, so that only the nodes that changed are drawn again.
  const drawn = useRef(new Map<string, Node<ServiceData>>());
  const nodes: Node<ServiceData>[] = layout
    ? services.map((svc) => {
        const info = serviceStatus(svc, containers, progress[svc.name], known);
        const c = info.container;
        const position = layout.nodes[svc.name] ?? ORIGIN;
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
      })
    : [];
  drawn.current = new Map(nodes.map((n) => [n.id, n]));
  const edges: Edge<RouteData>[] = useMemo(
    () =>
      (layout?.edges ?? []).map((route) => ({
        id: route.id,
        type: "route",
        source: route.source,
        target: route.target,
        data: { route, reach: reach?.[edgeKey(route.target, route.source)] },
        className: `edge-${route.condition}${reachClass(reach?.[edgeKey(route.target, route.source)])}`,
        markerEnd: ARROW,
        animated: progress[route.target] !== undefined && progress[route.source] !== undefined,
      })),
    [layout, progress, reach],
  );
  // The same list while no node changed, so that React Flow has nothing to update.
  const list = useRef<Node[]>([]);
  const next = [...labels, ...nodes];
  if (next.length !== list.current.length || next.some((n, i) => n !== list.current[i])) list.current = next;
  const clearSelection = useCallback(() => onSelect(null), [onSelect]);
  return (
    <div className={`diagram${planned ? " diagram-planned" : ""}`} data-testid="diagram" ref={pane} aria-busy={!laidOut}>
      {viewport && !live && <FirstFrame viewport={viewport} nodes={list.current} edges={edges} />}
      {viewport && live && (
        <ReactFlow
          nodes={list.current}
          edges={edges}
          nodeTypes={nodeTypes}
          edgeTypes={edgeTypes}
          viewport={viewport}
          onViewportChange={onViewportChange}
          minZoom={0.2}
          maxZoom={1.5}
          nodesConnectable={false}
          onPaneClick={clearSelection}
          proOptions={{ hideAttribution: true }}
        >
          <Background gap={24} />
          {fitted && !fitted.fits && <MiniMap pannable zoomable ariaLabel="Map of the whole stack" />}
        </ReactFlow>
      )}
    </div>
  );
}
