"""Patch operations: assessPatches and installPatches, their results and history."""
