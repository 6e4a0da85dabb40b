"""The analysis grid shared by density, zones, emerging hot spots and the forecast.

A :class:`Grid` is anchored to multiples of its cell size in SWEREF 99 TM (EPSG:3006), so a
given cell has the same centre every week and every product's rasters line up cell for cell.
A :class:`Surface` is a value per cell (row 0 = southernmost row) on a grid: the density, the
forecast, or any other raster layer of the archive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from affine import Affine


@dataclass(frozen=True)
class Grid:
    """Regular grid, lower-left corner ``(x0, y0)``, square cells of ``cell`` metres.

    >>> g = Grid(0.0, 0.0, 10.0, nx=3, ny=2)
    >>> g.centres()[0].tolist(), g.bounds
    ([5.0, 15.0, 25.0], (0.0, 0.0, 30.0, 20.0))
    """

    x0: float
    y0: float
    cell: float
    nx: int
    ny: int

    def __post_init__(self):
        if not (math.isfinite(self.cell) and self.cell > 0):
            raise ValueError(f"Grid.cell must be a positive number of metres, got {self.cell!r}")
        if self.nx < 1 or self.ny < 1:
            raise ValueError(f"Grid needs at least one cell, got nx={self.nx}, ny={self.ny}")

    @classmethod
    def anchored(cls, bounds, cell: float, pad: float = 0.0) -> "Grid":
        """Grid covering ``bounds`` (+ ``pad``) whose edges are integer multiples of ``cell``.

        Anchoring makes every week's grid comparable cell for cell: a given cell has the same
        centre whatever the data's extent.

        >>> Grid.anchored((101, 7, 149, 38), cell=10)
        Grid(x0=100.0, y0=0.0, cell=10.0, nx=5, ny=4)
        """
        minx, miny, maxx, maxy = (float(v) for v in bounds)
        if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)) or maxx < minx or maxy < miny:
            raise ValueError(f"bounds must be finite (minx, miny, maxx, maxy) with min <= max, got {bounds!r}")
        if not (math.isfinite(cell) and cell > 0):
            raise ValueError(f"cell must be a positive number of metres, got {cell!r}")
        if not (math.isfinite(pad) and pad >= 0):
            raise ValueError(f"pad must be >= 0 metres, got {pad!r}")
        i0, j0 = math.floor((minx - pad) / cell), math.floor((miny - pad) / cell)
        i1, j1 = math.ceil((maxx + pad) / cell), math.ceil((maxy + pad) / cell)
        return cls(i0 * float(cell), j0 * float(cell), float(cell), max(1, i1 - i0), max(1, j1 - j0))

    @property
    def shape(self) -> tuple[int, int]:
        """``(ny, nx)``, the shape of a density array."""
        return (self.ny, self.nx)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y0, self.x0 + self.nx * self.cell, self.y0 + self.ny * self.cell)

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centre coordinates ``(xs[nx], ys[ny])``, ys south to north."""
        xs = self.x0 + (np.arange(self.nx) + 0.5) * self.cell
        ys = self.y0 + (np.arange(self.ny) + 0.5) * self.cell
        return xs, ys

    @property
    def transform(self):
        """Affine transform of the **north-up** raster (``to_north_up(values)``), for rasterio."""
        return Affine(self.cell, 0.0, self.x0, 0.0, -self.cell, self.y0 + self.ny * self.cell)

    @staticmethod
    def to_north_up(values: np.ndarray) -> np.ndarray:
        """Flip rows: computation order (row 0 south) -> raster order (row 0 north)."""
        return np.asarray(values)[::-1]

    def cell_index(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(row, col, inside)`` of the cell containing each point (row 0 south).

        >>> Grid(0, 0, 10, 3, 2).cell_index(np.array([[15.0, 5.0], [99.0, 0.0]]))[2].tolist()
        [True, False]
        """
        pts = as_points(points)
        col = np.floor((pts[:, 0] - self.x0) / self.cell).astype(np.int64)
        row = np.floor((pts[:, 1] - self.y0) / self.cell).astype(np.int64)
        inside = (col >= 0) & (col < self.nx) & (row >= 0) & (row < self.ny)
        return row, col, inside

    def cell_polygons(self, mask: np.ndarray) -> list:
        """Shapely boxes of the cells where ``mask`` (shape ``(ny, nx)``, row 0 south) is True."""

        rows, cols = np.nonzero(check_shape(mask, self, "mask"))
        x = self.x0 + cols * self.cell
        y = self.y0 + rows * self.cell
        return list(shapely.box(x, y, x + self.cell, y + self.cell))


@dataclass(frozen=True)
class Surface:
    """Values per cell on ``grid`` (float32 ``[ny, nx]``, row 0 south, as :func:`kde` returns).

    >>> s = Surface(np.zeros((2, 3), dtype=np.float32), Grid(0, 0, 10, nx=3, ny=2))
    >>> s.values.shape == s.grid.shape
    True
    """

    values: np.ndarray
    grid: Any


def clip_mask(grid: Grid, geometry) -> np.ndarray:
    """Boolean ``(ny, nx)`` mask (row 0 south) of cells whose centre lies in ``geometry``.

    ``geometry`` is a shapely geometry or a GeoSeries/GeoDataFrame in EPSG:3006.

    >>> clip_mask(Grid(0, 0, 10, nx=3, ny=1), shapely.box(0, 0, 20, 10)).tolist()
    [[True, True, False]]
    """
    if hasattr(geometry, "union_all"):
        geometry = geometry.union_all()
    if geometry is None or geometry.is_empty:
        raise ValueError("clip_mask needs a non-empty boundary geometry (EPSG:3006)")
    shapely.prepare(geometry)
    xs, ys = grid.centres()
    gx, gy = np.meshgrid(xs, ys)
    return shapely.contains_xy(geometry, gx, gy)


def as_points(points) -> np.ndarray:
    """``points`` as a finite ``(n, 2)`` float array of x, y metres (ValueError otherwise)."""
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"points must be an (n, 2) array of x, y metres, got shape {pts.shape}")
    if not np.isfinite(pts).all():
        raise ValueError("points contain NaN or infinite coordinates; drop them first")
    return pts


def check_shape(arr, grid: Grid, name: str) -> np.ndarray:
    """``arr`` as an array, checked to have ``grid``'s ``(ny, nx)`` shape."""
    a = np.asarray(arr)
    if a.shape != grid.shape:
        raise ValueError(f"{name} must have the grid's shape {grid.shape} (ny, nx), got {a.shape}")
    return a
