"""Errors raised by the vision library."""


class ImageError(ValueError):
    """The image cannot be inspected (empty, corrupt, truncated, wrong size or channels).

    The message is meant for an operator: it says what is wrong with the image.
    """


class MeasurementError(RuntimeError):
    """The part could not be located or measured in an otherwise valid image."""
