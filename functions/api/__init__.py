"""API Lambda handler package (copied to LAMBDA_TASK_ROOT/api in the image)."""
