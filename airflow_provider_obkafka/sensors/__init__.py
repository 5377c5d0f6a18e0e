"""Sensors of the OceanBase-to-Kafka provider."""

from __future__ import annotations
