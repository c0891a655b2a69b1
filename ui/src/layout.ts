// Where the diagram's nodes and edges go: a layered layout computed by ELK (the Eclipse Layout
// Kernel, through elkjs), with the stack's layers as rows (frontend on top, data at the bottom),
// edges routed orthogonally around the nodes, and each edge's label given a place of its own
// (ELK reserves room for it, so it never covers a node). ELK runs in a worker that is ended once
// the layout is done (its 1.6 MB of code and its heap are not kept); a layout already computed
// for the same services is taken from the page's storage, so a launch draws at once.
import type { ElkExtendedEdge, ElkNode } from "elkjs/lib/elk-api";
import type { ServiceNode } from "./bindings/ServiceNode";
import { CONDITION_LABEL, LAYERS } from "./state";

export const NODE_WIDTH = 210;
export const NODE_HEIGHT = 96;
/** A row holds at most this many services; more wrap onto the next row of the same layer. */
export const ROW_MAX = 5;
/** Room on the left of the rows for the layers' names. */
export const GUTTER = 120;
const LABEL_HEIGHT = 16;

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}
export interface Point {
  x: number;
  y: number;
}
export interface EdgeRoute {
  id: string;
  /** The dependency (drawn below). */
  source: string;
  /** The service that depends on it. */
  target: string;
  /** What the edge waits for: started, healthy, completed. */
  condition: string;
  points: Point[];
  label: Box | null;
}
export interface Layout {
  nodes: Record<string, Point>;
  edges: EdgeRoute[];
  /** The layers' names and where each starts (its top row). */
  layers: { layer: string; x: number; y: number }[];
  /** Everything drawn, the layers' names included. */
  bounds: Box;
}

/** The row of the stack a service belongs to (unknown layers count as processing). */
function layerOf(svc: ServiceNode): string {
  return (LAYERS as readonly string[]).includes(svc.layer) ? svc.layer : "processing";
}

/** Width of an edge label's text at 10 px (measured glyphs would need the DOM; this errs wide). */
function labelWidth(text: string): number {
  return Math.ceil(text.length * 6.2) + 10;
}

/** The ELK graph of a stack: one partition per row, data first (ELK lays partitions out in
 * order, and the direction is up: a dependency sits below what depends on it). */
export function elkGraph(services: ServiceNode[]): ElkNode {
  const names = new Set(services.map((s) => s.name));
  const partition = new Map<string, number>();
  let next = 0;
  for (const layer of [...LAYERS].reverse()) {
    const inLayer = services.filter((s) => layerOf(s) === layer);
    inLayer.forEach((s, i) => partition.set(s.name, next + Math.floor(i / ROW_MAX)));
    next += Math.ceil(inLayer.length / ROW_MAX);
  }
  const edges: ElkExtendedEdge[] = services.flatMap((svc) =>
    svc.depends_on
      .filter((d) => names.has(d.target))
      .map((d) => {
        const text = CONDITION_LABEL[d.condition];
        return {
          id: `${svc.name}->${d.target}`,
          sources: [d.target],
          targets: [svc.name],
          labels: [{ text, width: labelWidth(text), height: LABEL_HEIGHT }],
        };
      }),
  );
  return {
    id: "stack",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "UP",
      "elk.edgeRouting": "ORTHOGONAL",
      "elk.partitioning.activate": "true",
      // One graph: rows hold across services with no edge between them.
      "elk.separateConnectedComponents": "false",
      // Dependencies as low as they can go: the data layer is one row.
      "elk.layered.layering.strategy": "LONGEST_PATH_SOURCE",
      "elk.layered.considerModelOrder.strategy": "NODES_AND_EDGES",
      "elk.layered.nodePlacement.strategy": "NETWORK_SIMPLEX",
      "elk.edgeLabels.placement": "CENTER",
      "elk.spacing.nodeNode": "40",
      "elk.layered.spacing.nodeNodeBetweenLayers": "28",
      "elk.layered.spacing.edgeNodeBetweenLayers": "14",
      "elk.spacing.edgeNode": "14",
      "elk.spacing.edgeEdge": "10",
      "elk.spacing.edgeLabel": "3",
      "elk.padding": "[top=12,left=12,bottom=12,right=12]",
    },
    children: services.map((s) => ({
      id: s.name,
      width: NODE_WIDTH,
      height: NODE_HEIGHT,
      layoutOptions: { "elk.partitioning.partition": String(partition.get(s.name) ?? 0) },
    })),
    edges,
  };
}

/** The layout out of ELK's answer, with the layers' names in the gutter on the left. */
export function fromElk(services: ServiceNode[], graph: ElkNode): Layout {
  const nodes: Record<string, Point> = {};
  for (const c of graph.children ?? []) nodes[c.id] = { x: c.x ?? 0, y: c.y ?? 0 };
  const edges: EdgeRoute[] = (graph.edges ?? []).map((e) => {
    const section = e.sections?.[0];
    const points = section ? [section.startPoint, ...(section.bendPoints ?? []), section.endPoint] : [];
    const l = e.labels?.[0];
    return {
      id: e.id,
      source: e.sources[0],
      target: e.targets[0],
      condition: l?.text ?? "",
      points: points.map((p) => ({ x: p.x, y: p.y })),
      label: l ? { x: l.x ?? 0, y: l.y ?? 0, width: l.width ?? 0, height: l.height ?? 0 } : null,
    };
  });
  // Everything ELK placed: nodes, edge routes (they may run around a row's end) and labels.
  const boxes: Box[] = [
    ...Object.values(nodes).map((p) => ({ ...p, width: NODE_WIDTH, height: NODE_HEIGHT })),
    ...edges.flatMap((e) => [...e.points.map((p) => ({ ...p, width: 0, height: 0 })), ...(e.label ? [e.label] : [])]),
  ];
  const top = Math.min(0, ...boxes.map((b) => b.y));
  const right = Math.max(0, ...boxes.map((b) => b.x + b.width));
  const bottom = Math.max(0, ...boxes.map((b) => b.y + b.height));
  const left = Math.min(0, ...boxes.map((b) => b.x)) - GUTTER;
  const layers = LAYERS.flatMap((layer) => {
    const rows = services.filter((s) => layerOf(s) === layer).map((s) => nodes[s.name]?.y ?? 0);
    return rows.length ? [{ layer, x: left + 8, y: Math.min(...rows) + NODE_HEIGHT / 2 - LABEL_HEIGHT / 2 }] : [];
  });
  return { nodes, edges, layers, bounds: { x: left, y: top, width: right - left, height: bottom - top } };
}

/** Runs ELK on a graph; the window's runs it in a worker (see `elkRunner`). */
export type ElkRun = (graph: ElkNode) => Promise<ElkNode>;

/** Changes whenever what this file computes changes, so that no layout of an older one is used. */
const LAYOUT_VERSION = 2;
const CACHE_PREFIX = "deck-layout:";
const CACHE_KEEP = 16;

function cacheKey(graph: ElkNode): string {
  return `${CACHE_PREFIX}${LAYOUT_VERSION}:${JSON.stringify(graph)}`;
}

/** The layout of a stack's services when it was computed before (kept in the page's storage),
 * at once: the diagram of a known stack is drawn in the render that first has its services. */
export function storedLayout(services: ServiceNode[], storage?: Storage): Layout | null {
  return readStored(cacheKey(elkGraph(services)), storage);
}

function readStored(key: string, storage?: Storage): Layout | null {
  try {
    const cached = storage?.getItem(key);
    return cached ? (JSON.parse(cached) as Layout) : null;
  } catch {
    // Unreadable (the storage refused, or what it held is not JSON): computed again.
    try {
      storage?.removeItem(key);
    } catch {
      // The storage refuses altogether: nothing is kept.
    }
    return null;
  }
}

/** The layout of a stack's services, from the page's storage when it was computed before. */
export async function computeLayout(services: ServiceNode[], run: ElkRun, storage?: Storage): Promise<Layout> {
  const graph = elkGraph(services);
  const key = cacheKey(graph);
  const stored = readStored(key, storage);
  if (stored) return stored;
  const layout = fromElk(services, await run(graph));
  if (storage) {
    try {
      const old = Object.keys(storage).filter((k) => k.startsWith(CACHE_PREFIX));
      for (const k of old.slice(0, Math.max(0, old.length - CACHE_KEEP + 1))) storage.removeItem(k);
      storage.setItem(key, JSON.stringify(layout));
    } catch {
      // Storage full or refused: the layout is computed again next time.
    }
  }
  return layout;
}

/** Where a box stands against another, for the window test and the view: whether they overlap. */
export function overlaps(a: Box, b: Box): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

export interface Viewport {
  x: number;
  y: number;
  zoom: number;
}

/** The smallest zoom at which a node's text stays readable; a stack that needs less is shown at
 * this zoom, with a minimap, centred on the selected node. */
export const READABLE_ZOOM = 0.4;
const PAD = 20;

/** The view that shows all of `bounds` in a pane of `width` x `height`, never above 1:1; when
 * that would be unreadable, the readable view around `focus` (or the graph's top left). */
export function fitViewport(bounds: Box, width: number, height: number, focus?: Point): Viewport & { fits: boolean } {
  const fit = Math.min((width - 2 * PAD) / bounds.width, (height - 2 * PAD) / bounds.height, 1);
  if (fit >= READABLE_ZOOM) {
    return {
      zoom: fit,
      x: (width - bounds.width * fit) / 2 - bounds.x * fit,
      y: (height - bounds.height * fit) / 2 - bounds.y * fit,
      fits: true,
    };
  }
  const zoom = READABLE_ZOOM;
  const center = focus ?? { x: bounds.x + (width / 2 - PAD) / zoom, y: bounds.y + (height / 2 - PAD) / zoom };
  return { zoom, x: width / 2 - center.x * zoom, y: height / 2 - center.y * zoom, fits: false };
}

/** A path through orthogonal points with its corners rounded. */
export function roundedPath(points: Point[], radius = 6): string {
  if (points.length === 0) return "";
  let d = `M${points[0].x},${points[0].y}`;
  for (let i = 1; i < points.length; i++) {
    const p = points[i];
    const next = points[i + 1];
    if (!next) {
      d += ` L${p.x},${p.y}`;
      break;
    }
    const prev = points[i - 1];
    const r = Math.min(radius, Math.hypot(p.x - prev.x, p.y - prev.y) / 2, Math.hypot(next.x - p.x, next.y - p.y) / 2);
    const inDir = { x: Math.sign(p.x - prev.x), y: Math.sign(p.y - prev.y) };
    const outDir = { x: Math.sign(next.x - p.x), y: Math.sign(next.y - p.y) };
    d += ` L${p.x - inDir.x * r},${p.y - inDir.y * r} Q${p.x},${p.y} ${p.x + outDir.x * r},${p.y + outDir.y * r}`;
  }
  return d;
}
