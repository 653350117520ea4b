"""Child processes that run native code (TensorRT's parser and builder) so a crash is an error."""
