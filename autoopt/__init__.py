"""autoopt: self-tuning, forecasting and decision automation.

The public API is the automation hub and its parts::

    from autoopt import create_intelligent_automation_hub, create_decision_rule, DecisionType

Every name below is importable from ``autoopt``; implementations live in
private modules and subpackages. ``import autoopt`` does not import Optuna,
pandas, matplotlib or torch; they load when first needed.
"""

from autoopt.config import AutomationConfig, create_automation_config
from autoopt.decision import DecisionEngine, Policy, Proposal, create_decision_rule
from autoopt.enums import (
    DecisionConfidence,
    DecisionType,
    LearningMode,
    LoadLevel,
    PredictionType,
    RemediationAction,
    SchedulerPriority,
    TaskState,
    TuningStatus,
    TuningStrategy,
)
from autoopt.exceptions import LoadShedError, TrialPruned, UnknownIdError
from autoopt.hub import IntelligentAutomationHub, create_intelligent_automation_hub
from autoopt.learning import PatternLearner
from autoopt.load import LoadManager
from autoopt.models import (
    Decision,
    DecisionRule,
    LearningPattern,
    LoadMetrics,
    Prediction,
    Remediation,
    ResourcePool,
    ScheduledTask,
    TuningParameter,
    TuningSession,
    create_load_metrics,
)
from autoopt.prediction import (
    AnomalyDetector,
    BacktestResult,
    Forecaster,
    PerformancePredictor,
    PredictionResults,
    backtest,
)
from autoopt.remediation import AutoRemediation
from autoopt.scheduling import IntelligentScheduler
from autoopt.serving import (
    AutomatedProvider,
    AutomatedVisionProvider,
    VisionDescription,
    VisionProvider,
    create_automated_provider,
)
from autoopt.tuning import CategoricalParam, FloatParam, IntParam, SelfTuner
from autoopt.workflows import Workflow

__version__ = "0.1.0"

__all__ = [
    # seed enums
    "DecisionType",
    "DecisionConfidence",
    "TuningStrategy",
    "TuningStatus",
    "SchedulerPriority",
    "TaskState",
    "LoadLevel",
    "RemediationAction",
    "PredictionType",
    "LearningMode",
    # seed dataclasses
    "Decision",
    "DecisionRule",
    "TuningParameter",
    "TuningSession",
    "ScheduledTask",
    "ResourcePool",
    "LoadMetrics",
    "Remediation",
    "Prediction",
    "LearningPattern",
    "AutomationConfig",
    # seed classes
    "DecisionEngine",
    "SelfTuner",
    "IntelligentScheduler",
    "LoadManager",
    "PerformancePredictor",
    "AutoRemediation",
    "PatternLearner",
    "IntelligentAutomationHub",
    "VisionProvider",
    "AutomatedVisionProvider",
    # seed factories
    "create_automation_config",
    "create_intelligent_automation_hub",
    "create_decision_rule",
    "create_load_metrics",
    "create_automated_provider",
    # additions
    "AutomatedProvider",
    "VisionDescription",
    "LoadShedError",
    "FloatParam",
    "IntParam",
    "CategoricalParam",
    "TrialPruned",
    "UnknownIdError",
    "Forecaster",
    "backtest",
    "BacktestResult",
    "PredictionResults",
    "AnomalyDetector",
    "Policy",
    "Proposal",
    "Workflow",
    "__version__",
]
