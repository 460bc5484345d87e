"""Draw a site's plan image from its YAML: `python patrol/sites/draw_plan.py [SITE.yaml] [OUT.png]`.

Pixel <-> metre: px = x * px_per_m, py = height_px - y * px_per_m (y up in metres, down in pixels).
Labels are ASCII ids (no CJK font is assumed); the map UI puts the Chinese names over it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from patrol.site import Site, load_site

RGB = tuple[int, int, int]
GRID_COLOURS: list[RGB] = [(200, 60, 60), (60, 140, 60), (60, 60, 200), (180, 120, 0)]
COLOURS: dict[str, RGB] = {
    "background": (236, 240, 228), "road": (206, 206, 200), "link": (170, 170, 165),
    "building": (222, 206, 178), "building_edge": (120, 100, 80), "fire_lane": (236, 120, 110),
    "bike_shed": (150, 190, 225), "square": (230, 225, 200), "green": (190, 220, 170), "parking": (215, 215,
                                                                                                   225),
    "road_area": (206, 206, 200), "gate": (40, 40, 40), "checkpoint": (30, 90, 200), "entrance": (120, 60,
                                                                                                  30),
    "text": (30, 30, 30),
}


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for name in ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                 "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def draw(site: Site) -> Image.Image:
    plan = site.config.plan
    w, h = round(plan.width_m * plan.px_per_m), round(plan.height_m * plan.px_per_m)
    img = Image.new("RGB", (w, h), COLOURS["background"])
    d = ImageDraw.Draw(img)
    font, small = _font(13), _font(10)

    def px(pt: tuple[float, float]) -> tuple[float, float]:
        return site.to_pixel(*pt)

    # walkable links: roads between junctions wide, paths thin
    for a, b in site.graph.edges():
        if a > b and site.graph.has_edge(b, a):
            continue
        ka, kb = site.config.places[a].kind, site.config.places[b].kind
        wide = ka in ("junction", "gate", "fire_lane") and kb in ("junction", "gate", "fire_lane")
        d.line([px(site.config.places[a].xy), px(site.config.places[b].xy)],
               fill=COLOURS["road"] if wide else COLOURS["link"], width=int(6 * plan.px_per_m) if wide else 2)
    for area in site.config.areas.values():
        colour = COLOURS["road_area" if area.kind == "road" else area.kind]
        d.polygon([px(p) for p in area.polygon], fill=colour)
        if area.kind == "fire_lane":  # hatch: keep clear
            xs = [px(p)[0] for p in area.polygon]
            ys = [px(p)[1] for p in area.polygon]
            for yy in range(int(min(ys)), int(max(ys)), 12):
                d.line([(min(xs), yy), (max(xs), yy + 10)], fill=(255, 255, 255), width=2)
    for bid, b in site.config.buildings.items():
        pts = [px(p) for p in b.polygon]
        d.polygon(pts, fill=COLOURS["building"], outline=COLOURS["building_edge"], width=2)
        cx, cy = sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)
        d.text((cx, cy), bid.upper(), fill=COLOURS["text"], font=font, anchor="mm")
    for i, (gid, cell) in enumerate(site.config.grids.items()):
        colour = GRID_COLOURS[i % len(GRID_COLOURS)]
        pts = [px(p) for p in cell.polygon]
        for j in range(len(pts)):  # dashed outline
            (x1, y1), (x2, y2) = pts[j], pts[(j + 1) % len(pts)]
            steps = max(1, int(max(abs(x2 - x1), abs(y2 - y1)) // 8))
            for s in range(0, steps, 2):
                t1, t2 = s / steps, min(1.0, (s + 1) / steps)
                d.line([(x1 + (x2 - x1) * t1, y1 + (y2 - y1) * t1), (x1 + (x2 - x1) * t2,
                                                                     y1 + (y2 - y1) * t2)],
                       fill=colour, width=2)
        d.text((min(p[0] for p in pts) + 6, min(p[1] for p in pts) + 4), gid, fill=colour, font=font)
    for pid, place in site.config.places.items():
        x, y = px(place.xy)
        if place.kind == "gate":
            d.rectangle([x - 7, y - 7, x + 7, y + 7], fill=COLOURS["gate"])
            lx = x + 9 if x < w - 90 else x - 9 - d.textlength(pid, font=small)
            d.text((lx, y - 16), pid, fill=COLOURS["text"], font=small)
        elif place.kind == "checkpoint":
            d.ellipse([x - 6, y - 6, x + 6, y + 6], fill=COLOURS["checkpoint"], outline=(255, 255, 255),
                      width=2)
            label = pid.removeprefix("cp_")
            lx = x + 8 if x < w - 90 else x - 8 - d.textlength(label, font=small)
            d.text((lx, y - 6), label, fill=COLOURS["checkpoint"], font=small)
        elif place.kind in ("entrance",):
            d.rectangle([x - 3, y - 3, x + 3, y + 3], fill=COLOURS["entrance"])
        elif place.kind in ("bike_shed", "fire_lane", "square", "parking"):
            d.text((x, y), place.kind.replace("_", " "), fill=COLOURS["text"], font=small, anchor="mm")
    # scale bar: 20 m
    bar = 20 * plan.px_per_m
    d.line([(10, h - 12), (10 + bar, h - 12)], fill=COLOURS["text"], width=3)
    d.text((14 + bar, h - 19), "20 m", fill=COLOURS["text"], font=small)
    d.text((w - 20, 10), "N", fill=COLOURS["text"], font=font)
    return img


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    site_path = Path(args[0]) if args else Path(__file__).with_name("demo_site.yaml")
    site = load_site(site_path)
    out = Path(args[1]) if len(args) > 1 else (site.plan_image or site_path.with_suffix(".png"))
    draw(site).save(out, optimize=True)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
