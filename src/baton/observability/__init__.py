"""Observability (seed layer 7): tracing, metrics, the log aggregator and alerts.

Each part watches executions through `baton.core.interceptors.RunInterceptor`, so core stays
free of OpenTelemetry and Prometheus; `baton.app` plugs them in.
"""
