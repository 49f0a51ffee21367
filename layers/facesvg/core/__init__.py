"""The render core: pure image work, arrays and bytes in, arrays and bytes out.

Coordinate convention, everywhere in this package: points are ``(x, y)`` float64 in pixels,
``x`` to the right and ``y`` down, origin at the top-left corner of the top-left pixel's centre
(OpenCV's convention). Images are ``(H, W[, C])`` NumPy arrays, BGR like OpenCV. Affines are
2x3 float64 matrices mapping input ``(x, y, 1)`` to output ``(x, y)``.
"""
