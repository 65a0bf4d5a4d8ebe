"""The prediction API: FastAPI app, hot-swappable ONNX model, inference log and metrics."""
