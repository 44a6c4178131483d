"""Core orchestration: plan model and validation, pure scheduling, executor, orchestrator."""
