"""Shapes: optimization profiles and realistic shapes for dynamic dimensions."""
