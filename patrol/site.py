"""The site: named places in metres, walkable links, grid cells (网格), and travel times between places.

Coordinates are metres on the site plan: x to the east, y to the north, origin at the plan image's
bottom-left corner. The plan image maps them with `plan.px_per_m`:
``px = x * px_per_m``, ``py = image_height - y * px_per_m``. In Leaflet with ``CRS.Simple`` put the
image over bounds ``[[0, 0], [height_m, width_m]]`` and every place is ``L.latLng(y, x)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import networkx as nx
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from patrol.errors import PatrolError, first_error
from patrol.yamlfile import read_yaml

PlaceKind = Literal[
    "gate", "entrance", "lobby", "corridor", "stairwell", "elevator", "bike_shed", "fire_lane",
    "checkpoint", "garbage_room", "square", "office", "junction", "parking",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Place(_Model):
    """A named point of the site graph."""

    kind: PlaceKind = Field(
        description="What it is: gate, entrance, lobby, bike_shed, fire_lane, checkpoint, ..."
    )
    xy: tuple[float,
              float] = Field(description="Position in metres [x east, y north] from the plan's bottom-left")
    name: str = Field(default="", description="Display name (zh-CN), e.g. 东门")
    building: str | None = Field(default=None, description="Building this place belongs to, if any")
    grid: str | None = Field(default=None,
                             description="Grid cell id; derived from the grid polygons when left out")


class Link(_Model):
    """A walkable link between two places; its length defaults to the straight-line distance."""

    a: str = Field(description="Place id at one end")
    b: str = Field(description="Place id at the other end")
    length_m: float | None = Field(default=None, gt=0,
                                   description="Walking length in metres (default: distance)")
    one_way: bool = Field(default=False, description="Walkable only from a to b")


class GridCell(_Model):
    """A grid cell (网格) with its responsible grid worker (网格员)."""

    name: str = Field(default="", description="Display name, e.g. 第一网格")
    worker: str = Field(description="Person id of the responsible grid worker")
    polygon: list[tuple[float, float]] = Field(min_length=3, description="Polygon in metres")


class Building(_Model):
    """A building footprint, only for drawing the plan."""

    name: str = Field(default="", description="Display name, e.g. 3号楼")
    polygon: list[tuple[float, float]] = Field(min_length=3, description="Footprint in metres")
    floors: int = Field(default=6, ge=1, description="Number of floors")


class Area(_Model):
    """A drawn area that is not a building: fire lane strip, bike shed roof, square, green."""

    kind: Literal["fire_lane", "bike_shed", "square", "green", "parking",
                  "road"] = Field(description="What it is")
    name: str = Field(default="", description="Display name")
    polygon: list[tuple[float, float]] = Field(min_length=3, description="Outline in metres")


class Plan(_Model):
    """The plan image and its scale."""

    image: str = Field(default="", description="Plan image path, relative to the site file")
    width_m: float = Field(gt=0, description="Width of the plan in metres")
    height_m: float = Field(gt=0, description="Height of the plan in metres")
    px_per_m: float = Field(default=4.0, gt=0, description="Pixels per metre of the plan image")


class SiteConfig(_Model):
    """The site file: `name`, `plan`, `places`, `links`, `grids`, `buildings`, `office`."""

    name: str = Field(description="Site name")
    timezone: str = Field(default="Asia/Shanghai", description="IANA timezone of the site's clocks")
    walking_speed_mps: float = Field(default=1.2, gt=0, description="Walking speed in metres per second")
    office: str = Field(default="community_office",
                        description="Who is escalated to after the grid worker (社区)")
    plan: Plan = Field(description="Plan image and scale")
    places: dict[str, Place] = Field(min_length=1, description="Places by id")
    links: list[Link | tuple[str, str]] = Field(default_factory=list, description="Walkable links")
    grids: dict[str, GridCell] = Field(default_factory=dict, description="Grid cells by id")
    buildings: dict[str, Building] = Field(default_factory=dict, description="Building footprints by id")
    areas: dict[str, Area] = Field(default_factory=dict,
                                   description="Drawn areas (fire lanes, sheds, squares)")

    @model_validator(mode="after")
    def _check_refs(self) -> SiteConfig:
        for i, raw in enumerate(self.links):
            link = raw if isinstance(raw, Link) else Link(a=raw[0], b=raw[1])
            for end in (link.a, link.b):
                if end not in self.places:
                    raise ValueError(f"links[{i}] names place '{end}', which is not under places:")
        return self


def point_in_polygon(x: float, y: float, poly: list[tuple[float, float]]) -> bool:
    """Even-odd rule; points on the boundary may go either way."""
    inside = False
    n = len(poly)
    for i in range(n):
        x1, y1 = poly[i]
        x2, y2 = poly[(i + 1) % n]
        if (y1 > y) != (y2 > y):
            xc = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < xc:
                inside = not inside
    return inside


class Site:
    """A loaded site: the graph, travel times (all pairs, precomputed), grid lookup, nearest place."""

    def __init__(self, config: SiteConfig, source: str = "<site>") -> None:
        self.config = config
        self.source = source
        self.ids: list[str] = list(config.places)
        self.index: dict[str, int] = {p: i for i, p in enumerate(self.ids)}
        self.speed = config.walking_speed_mps
        self.graph = nx.DiGraph()
        for pid, place in config.places.items():
            self.graph.add_node(pid, kind=place.kind, xy=place.xy)
        for raw in config.links:
            link = raw if isinstance(raw, Link) else Link(a=raw[0], b=raw[1])
            pa, pb = config.places[link.a].xy, config.places[link.b].xy
            length = link.length_m if link.length_m is not None else float(np.hypot(pa[0] - pb[0],
                                                                                    pa[1] - pb[1]))
            length = max(length, 0.01)
            self.graph.add_edge(link.a, link.b, length=length)
            if not link.one_way:
                self.graph.add_edge(link.b, link.a, length=length)
        adj = nx.to_scipy_sparse_array(self.graph, nodelist=self.ids, weight="length", format="csr")
        self.distance_m: np.ndarray = dijkstra(adj, directed=True)
        self._check_reachable()
        self.travel_s: np.ndarray = self.distance_m / self.speed
        self.xy = np.array([config.places[p].xy for p in self.ids], dtype=float)
        self._tree = cKDTree(self.xy)
        self.grid_of: dict[str, str | None] = {}
        for pid, place in config.places.items():
            self.grid_of[pid] = place.grid if place.grid is not None else self.grid_at(*place.xy)
            if place.grid is not None and place.grid not in config.grids:
                raise PatrolError(f"{source}: places.{pid}.grid '{place.grid}' is not under grids:")

    def _check_reachable(self) -> None:
        if len(self.ids) < 2:
            return
        home = self.ids[0]
        for i, pid in enumerate(self.ids):
            if not np.isfinite(self.distance_m[0, i]):
                raise PatrolError(
                    f"{self.source}: place '{pid}' cannot be reached from "
                    f"'{home}'; add a walkable link to it under links:")
            if not np.isfinite(self.distance_m[i, 0]):
                raise PatrolError(
                    f"{self.source}: place '{pid}' cannot walk back to '{home}' "
                    "(one-way links only); add a link under links:")

    # --- lookups -------------------------------------------------------------------------------------
    def place(self, pid: str) -> Place:
        try:
            return self.config.places[pid]
        except KeyError:
            raise PatrolError(f"{self.source}: unknown place '{pid}'") from None

    def idx(self, pid: str) -> int:
        try:
            return self.index[pid]
        except KeyError:
            raise PatrolError(f"{self.source}: unknown place '{pid}'") from None

    def travel_time_s(self, a: str, b: str) -> float:
        """Walking time in seconds along the shortest path from place a to place b."""
        return float(self.travel_s[self.idx(a), self.idx(b)])

    def path(self, a: str, b: str) -> list[str]:
        """The place ids along the shortest walk from a to b (for drawing the way there)."""
        self.idx(a), self.idx(b)
        return list(nx.shortest_path(self.graph, a, b, weight="length"))

    def path_xy(self, a: str, b: str) -> list[tuple[float, float]]:
        return [self.config.places[p].xy for p in self.path(a, b)]

    def nearest_place(self, x: float, y: float) -> str:
        """The place closest to a position in metres (e.g. the phone's last fix)."""
        _, i = self._tree.query([x, y])
        return self.ids[int(i)]

    def grid_at(self, x: float, y: float) -> str | None:
        for gid, cell in self.config.grids.items():
            if point_in_polygon(x, y, cell.polygon):
                return gid
        return None

    def grid_worker(self, grid: str | None) -> str | None:
        if grid is None or grid not in self.config.grids:
            return None
        return self.config.grids[grid].worker

    def places_of_kind(self, *kinds: str) -> list[str]:
        return [p for p, pl in self.config.places.items() if pl.kind in kinds]

    # --- plan mapping ----------------------------------------------------------------------------------
    def to_pixel(self, x: float, y: float) -> tuple[float, float]:
        plan = self.config.plan
        return x * plan.px_per_m, (plan.height_m - y) * plan.px_per_m

    def to_metres(self, px: float, py: float) -> tuple[float, float]:
        plan = self.config.plan
        return px / plan.px_per_m, plan.height_m - py / plan.px_per_m

    @property
    def plan_image(self) -> Path | None:
        if not self.config.plan.image:
            return None
        base = Path(self.source).parent if self.source != "<site>" else Path(".")
        return base / self.config.plan.image


def _format_validation(source: str, exc: ValidationError) -> str:
    loc, msg = first_error(exc)
    return f"{source}: {loc}: {msg}" + (
        f" ({len(exc.errors())} errors in all)" if len(exc.errors()) > 1 else ""
    )


def site_from_dict(data: Any, source: str = "<site>") -> Site:
    if not isinstance(data, dict):
        raise PatrolError(f"{source}: expected a mapping with name, plan, places, links, grids")
    try:
        config = SiteConfig.model_validate(data)
    except ValidationError as exc:
        raise PatrolError(_format_validation(source, exc)) from None
    return Site(config, source)


def load_site(path: str | Path) -> Site:
    """Load and check a site YAML file; every error names the file and the item."""
    p = Path(path)
    data = read_yaml(p, "site")
    return site_from_dict(data, str(p))
