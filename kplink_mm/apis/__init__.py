from .inference import detect_targets, inference_klpnet

__all__ = ['detect_targets', 'inference_klpnet']
