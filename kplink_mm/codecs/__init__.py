from .category_implicit_heatmap import CategoryImplicitHeatmap

__all__ = ['CategoryImplicitHeatmap']
