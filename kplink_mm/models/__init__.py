from . import necks  # noqa: F401
from . import heads  # noqa: F401
from . import losses  # noqa: F401
from . import pose_estimators  # noqa: F401
