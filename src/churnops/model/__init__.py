"""Model stages: training, ONNX export, scoring and evaluation."""
