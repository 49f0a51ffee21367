"""Hair's colours in shade: each colour of the scalp's hair model stretched along its own line to black.

The scalp's seeds (``scalp_hair``) are the scalp pixels the skin model rejects. Light hair (white,
grey, blond) is near skin's lightness, so the skin model keeps much of it and the seeds are the
brightest, best-lit strands at the crown only: a model of them alone is tight, and the same hair in
shade at the temples and the sides (darker, as chroma-poor) is explained by neither it nor skin and
is lost. Shade scales a surface's reflected light: in CIELAB it moves a colour toward black,
lightness and chroma together (``L, a-128, b-128`` times a factor). So each part of the hair model
also allows its colour times ``1 ± SHADE`` (one standard deviation along that line), whatever the
hair's colour: white hair's line runs down the grey axis, brown hair's toward dark brown; black
hair's is short (little lightness to lose), so it changes little. A shade deeper than that (near
black, a dark wall behind white hair) stays outside the model, and skin's colours stay out by the
``scalp_hair`` rule that hair never has skin's colour. A light grey or cream wall lies on white
hair's line too: ``scalp_hair`` then takes the wall's colours from the border off the head by the
lit colours alone, so the wall's own model explains it better; a wall of the very grey of the
shaded hair cannot be told from it by colour (as black hair on a black backdrop).
"""

from __future__ import annotations

import numpy as np

from facesvg.core.skin_model import Gaussian, Mixture

SHADE = 0.15  # one standard deviation of the light factor on the hair (shadow or highlight)
BLACK = np.array([0.0, 128.0, 128.0])  # black in OpenCV's 8-bit Lab (a and b offset by 128)


def shaded(model: Mixture) -> Mixture:
    """``model`` with each part's covariance widened along the line from black through its mean."""
    return Mixture(tuple(_stretched(g) for g in model.parts))


def _stretched(g: Gaussian) -> Gaussian:
    v = (g.mean - BLACK) * SHADE
    # (C + v vT)^-1 by Sherman-Morrison; det(C + v vT) = det(C) (1 + vT C^-1 v)
    iv = g.inv @ v
    q = float(v @ iv)
    inv = g.inv - np.outer(iv, iv) / (1.0 + q)
    return Gaussian(g.mean, inv, g.log_det + float(np.log1p(q)))


__all__ = ["SHADE", "shaded"]
