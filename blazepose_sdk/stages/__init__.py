"""The pipeline's model stages: the TFLite runtime (the only code that touches an interpreter),
the person detector and the landmark model, each a small class with one call method."""
