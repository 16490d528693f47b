"""Operating the pipelines: alerts about their runs and the continuous-training plan."""
