"""Identity operations, one module per use case. They only flush; the edge commits."""
