"""The indicators' report over the facts' read model."""
