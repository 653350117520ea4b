"""Reduced precision by converting the model, with a keep-in-FP32 set and accuracy against FP32."""
