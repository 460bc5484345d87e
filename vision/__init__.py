"""SharpEyes vision: camera -> frames -> motion -> detections -> tracks -> zone rules -> events.

numpy / OpenCV / ONNX only: no database, no web framework, no import of `api` or `patrol`.
"""
