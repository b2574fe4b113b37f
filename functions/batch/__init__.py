"""Batch Lambda handler package (copied to LAMBDA_TASK_ROOT/batch in the image)."""
