"""The supply layer: base-station sites per generation, the cells and capacity they give."""
