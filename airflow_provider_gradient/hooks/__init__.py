"""Hooks: ``GradientHook`` (the gradient connection -> local service or http client) and collectors."""
