"""MediaPipe FaceMesh's published connection sets, as data.

Copied from ``mediapipe/python/solutions/face_mesh_connections.py`` (google-ai-edge/mediapipe,
Copyright 2021 The MediaPipe Authors, Apache License 2.0): ``FACEMESH_LIPS``, ``FACEMESH_LEFT_EYE``,
``FACEMESH_RIGHT_EYE``, ``FACEMESH_LEFT_EYEBROW``, ``FACEMESH_RIGHT_EYEBROW``, ``FACEMESH_LEFT_IRIS``,
``FACEMESH_RIGHT_IRIS``, ``FACEMESH_FACE_OVAL`` and ``FACEMESH_NOSE`` (the last as published from
mediapipe 0.10). mediapipe itself is not a dependency: these edge lists are all the derived label
map (``core.derived_labels``) needs of it. MediaPipe's "LEFT" is the subject's left.

``chains`` turns an edge set into its ordered index chains (an eye's set is two chains, the lids,
from corner to corner; the face oval's is one closed loop).
"""

from __future__ import annotations

from collections import defaultdict

Edges = tuple[tuple[int, int], ...]

FACEMESH_LIPS: Edges = (
    (61, 146), (146, 91), (91, 181), (181, 84), (84, 17), (17, 314), (314, 405), (405, 321),
    (321, 375), (375, 291), (61, 185), (185, 40), (40, 39), (39, 37), (37, 0), (0, 267),
    (267, 269), (269, 270), (270, 409), (409, 291), (78, 95), (95, 88), (88, 178), (178, 87),
    (87, 14), (14, 317), (317, 402), (402, 318), (318, 324), (324, 308), (78, 191), (191, 80),
    (80, 81), (81, 82), (82, 13), (13, 312), (312, 311), (311, 310), (310, 415), (415, 308),
)  # fmt: skip
FACEMESH_LEFT_EYE: Edges = (
    (263, 249), (249, 390), (390, 373), (373, 374), (374, 380), (380, 381), (381, 382), (382, 362),
    (263, 466), (466, 388), (388, 387), (387, 386), (386, 385), (385, 384), (384, 398), (398, 362),
)  # fmt: skip
FACEMESH_LEFT_IRIS: Edges = ((474, 475), (475, 476), (476, 477), (477, 474))
FACEMESH_LEFT_EYEBROW: Edges = (
    (276, 283), (283, 282), (282, 295), (295, 285), (300, 293), (293, 334), (334, 296), (296, 336),
)  # fmt: skip
FACEMESH_RIGHT_EYE: Edges = (
    (33, 7), (7, 163), (163, 144), (144, 145), (145, 153), (153, 154), (154, 155), (155, 133),
    (33, 246), (246, 161), (161, 160), (160, 159), (159, 158), (158, 157), (157, 173), (173, 133),
)  # fmt: skip
FACEMESH_RIGHT_EYEBROW: Edges = (
    (46, 53), (53, 52), (52, 65), (65, 55), (70, 63), (63, 105), (105, 66), (66, 107),
)  # fmt: skip
FACEMESH_RIGHT_IRIS: Edges = ((469, 470), (470, 471), (471, 472), (472, 469))
FACEMESH_FACE_OVAL: Edges = (
    (10, 338), (338, 297), (297, 332), (332, 284), (284, 251), (251, 389), (389, 356), (356, 454),
    (454, 323), (323, 361), (361, 288), (288, 397), (397, 365), (365, 379), (379, 378), (378, 400),
    (400, 377), (377, 152), (152, 148), (148, 176), (176, 149), (149, 150), (150, 136), (136, 172),
    (172, 58), (58, 132), (132, 93), (93, 234), (234, 127), (127, 162), (162, 21), (21, 54),
    (54, 103), (103, 67), (67, 109), (109, 10),
)  # fmt: skip
FACEMESH_NOSE: Edges = (
    (168, 6), (6, 197), (197, 195), (195, 5), (5, 4), (4, 1), (1, 19), (19, 94), (94, 2), (98, 97),
    (97, 2), (2, 326), (326, 327), (327, 294), (294, 278), (278, 344), (344, 440), (440, 275),
    (275, 4), (4, 45), (45, 220), (220, 115), (115, 48), (48, 64), (64, 98),
)  # fmt: skip
FACEMESH_IRISES: Edges = FACEMESH_LEFT_IRIS + FACEMESH_RIGHT_IRIS


def points(edges: Edges) -> tuple[int, ...]:
    """Every index the set uses, sorted."""
    return tuple(sorted({i for edge in edges for i in edge}))


def chains(edges: Edges) -> list[tuple[int, ...]]:
    """The set's simple paths, each walked from an end (a closed loop from its smallest index).

    Only for sets that are disjoint paths or loops (every index has at most two neighbours)."""
    nbrs: dict[int, list[int]] = defaultdict(list)
    for a, b in edges:
        nbrs[a].append(b)
        nbrs[b].append(a)
    if any(len(n) > 2 for n in nbrs.values()):
        raise ValueError("not a set of simple paths")
    seen: set[int] = set()
    out: list[tuple[int, ...]] = []
    starts = sorted(i for i, n in nbrs.items() if len(n) == 1) + sorted(nbrs)
    for start in starts:
        if start in seen:
            continue
        walk, prev = [start], None
        seen.add(start)
        while True:
            nxt = [n for n in nbrs[walk[-1]] if n != prev and n not in seen]
            if not nxt:
                break
            prev = walk[-1]
            walk.append(nxt[0])
            seen.add(nxt[0])
        out.append(tuple(walk))
    return out
