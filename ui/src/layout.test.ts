import ELK from "elkjs/lib/elk.bundled.js";
import { describe, expect, it } from "vitest";
import type { Layer } from "./bindings/Layer";
import type { ServiceNode } from "./bindings/ServiceNode";
import { computeLayout, fitViewport, NODE_HEIGHT, NODE_WIDTH, overlaps, READABLE_ZOOM, roundedPath, ROW_MAX, type Layout } from "./layout";

const elk = new ELK();
const run = (g: Parameters<typeof elk.layout>[0]) => elk.layout(g);

const svc = (name: string, layer: Layer, depends: [string, ServiceNode["depends_on"][number]["condition"]][] = []): ServiceNode => ({
  name,
  layer,
  image: null,
  build_target: null,
  ports: [],
  depends_on: depends.map(([target, condition]) => ({ target, condition })),
  has_healthcheck: true,
  one_shot: false,
  replicas: 1,
  memory_limit: null,
  cpu_limit: null,
});

/** The Sirius stack's shape (../shared/fixtures/sirius). */
const sirius = [
  svc("sirius-postgres", "data"),
  svc("sirius-valkey", "data"),
  svc("sirius-rabbitmq", "data"),
  svc("sirius-migrate", "processing", [["sirius-postgres", "service_healthy"]]),
  svc("sirius-api", "processing", [
    ["sirius-postgres", "service_healthy"],
    ["sirius-valkey", "service_healthy"],
    ["sirius-rabbitmq", "service_healthy"],
    ["sirius-migrate", "service_completed_successfully"],
  ]),
  svc("sirius-engine", "processing", [
    ["sirius-valkey", "service_healthy"],
    ["sirius-rabbitmq", "service_healthy"],
  ]),
  svc("sirius-ui", "frontend", [["sirius-api", "service_healthy"]]),
];

const box = (l: Layout, name: string) => ({ ...l.nodes[name], width: NODE_WIDTH, height: NODE_HEIGHT });

function checkReadable(l: Layout, services: ServiceNode[]) {
  const names = services.map((s) => s.name);
  // No two nodes overlap; no edge label covers a node; every node inside the bounds.
  for (const [i, a] of names.entries()) {
    for (const b of names.slice(i + 1)) expect(overlaps(box(l, a), box(l, b)), `${a} and ${b} overlap`).toBe(false);
    for (const e of l.edges) if (e.label) expect(overlaps(e.label, box(l, a)), `label of ${e.id} covers ${a}`).toBe(false);
    const b = box(l, a);
    expect(b.x >= l.bounds.x && b.y >= l.bounds.y && b.x + b.width <= l.bounds.x + l.bounds.width && b.y + b.height <= l.bounds.y + l.bounds.height).toBe(true);
  }
  // Orthogonal routes: every segment horizontal or vertical.
  for (const e of l.edges) {
    expect(e.points.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < e.points.length; i++) {
      const [p, q] = [e.points[i - 1], e.points[i]];
      expect(Math.abs(p.x - q.x) < 0.5 || Math.abs(p.y - q.y) < 0.5, `${e.id} has a slanted segment`).toBe(true);
    }
  }
}

describe("the layout", () => {
  it("rows by layer, dependencies below, labels clear of every node", async () => {
    const l = await computeLayout(sirius, run);
    const y = (n: string) => l.nodes[n].y;
    expect(y("sirius-ui")).toBeLessThan(y("sirius-api"));
    expect(y("sirius-api")).toBeLessThan(y("sirius-postgres"));
    expect(y("sirius-engine")).toBeLessThan(y("sirius-valkey"));
    expect(y("sirius-migrate")).toBeLessThan(y("sirius-postgres"));
    expect(l.edges).toHaveLength(8);
    expect(l.layers.map((x) => x.layer)).toEqual(["frontend", "processing", "data"]);
    checkReadable(l, sirius);
  });

  it("wraps a wide layer and keeps 30 services apart", async () => {
    const data = Array.from({ length: 12 }, (_, i) => svc(`db${i}`, "data"));
    const workers = Array.from({ length: 15 }, (_, i) => svc(`worker${i}`, "processing", [[`db${i % 12}`, "service_healthy"]]));
    const fronts = Array.from({ length: 3 }, (_, i) => svc(`web${i}`, "frontend", [[`worker${i}`, "service_started"]]));
    const all = [...data, ...workers, ...fronts];
    const l = await computeLayout(all, run);
    const rows = new Set(data.map((s) => l.nodes[s.name].y));
    expect(rows.size).toBe(Math.ceil(12 / ROW_MAX));
    checkReadable(l, all);
    // Too big to read whole in a small pane: a readable zoom around the selected node.
    const v = fitViewport(l.bounds, 1024, 600, { x: l.nodes.worker7.x, y: l.nodes.worker7.y });
    expect(v.fits).toBe(false);
    expect(v.zoom).toBe(READABLE_ZOOM);
    expect(v.x + l.nodes.worker7.x * v.zoom).toBeCloseTo(512);
  });

  it("is taken from storage the second time", async () => {
    const store = new Map<string, string>();
    const storage = {
      getItem: (k: string) => store.get(k) ?? null,
      setItem: (k: string, v: string) => void store.set(k, v),
      removeItem: (k: string) => void store.delete(k),
    } as unknown as Storage;
    let runs = 0;
    const counted = (g: Parameters<typeof run>[0]) => {
      runs += 1;
      return run(g);
    };
    const a = await computeLayout(sirius, counted, storage);
    const b = await computeLayout(sirius, counted, storage);
    expect(runs).toBe(1);
    expect(b).toEqual(a);
  });

  it("fits the whole stack, never above 1:1, centred", () => {
    const bounds = { x: -100, y: 0, width: 900, height: 500 };
    const big = fitViewport(bounds, 2000, 1400);
    expect(big.zoom).toBe(1);
    expect(big.x + bounds.x).toBeCloseTo((2000 - 900) / 2);
    const small = fitViewport(bounds, 700, 500);
    expect(small.fits).toBe(true);
    expect(small.zoom).toBeCloseTo(Math.min(660 / 900, 460 / 500));
    expect(small.x + (bounds.x + bounds.width) * small.zoom).toBeLessThanOrEqual(700);
  });

  it("rounds an orthogonal path's corners", () => {
    expect(roundedPath([{ x: 0, y: 0 }, { x: 0, y: 20 }, { x: 30, y: 20 }])).toBe("M0,0 L0,14 Q0,20 6,20 L30,20");
  });
});
