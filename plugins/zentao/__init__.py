"""zentao: ZenTao on Kubernetes, as DevStream's zentao plugin installed it (see `plugin`)."""

from devstream.plugins.zentao.plugin import ZentaoPlugin

__all__ = ["ZentaoPlugin"]
