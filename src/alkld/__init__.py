"""alkld: linked data for clinical case reports of ALK-positive tumours."""

__version__ = "0.1.0"

__all__ = ["__version__"]
