"""Stage 1: frames to raw hole masks (flow, occlusion check, the pool writer, generated scenes)."""
