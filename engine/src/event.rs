//! The closed enums of input events (what a planner, an admin or the environment does) and
//! outcome events (what the engine decided). These are the only serialized domain types.
//!
//! Users, groups, SKUs and plans are referred to by dense index: a user's index is the number of
//! `CreateUser` events before it (deleted users keep theirs), likewise for groups; SKUs and plans
//! index the catalogue the log header carries.

use crate::{GroupIdx, Loc, PlanIdx, SkuIdx, UserIdx};
use std::fmt;

/// One license in an `assignLicense` call: a SKU and the plans disabled in it (sorted, unique).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode)]
pub struct LicenseSpec {
    pub sku: SkuIdx,
    pub disabled: Vec<PlanIdx>,
}

impl LicenseSpec {
    pub fn new(sku: SkuIdx) -> LicenseSpec {
        LicenseSpec {
            sku,
            disabled: Vec::new(),
        }
    }
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode,
)]
pub enum Member {
    User(UserIdx),
    Group(GroupIdx),
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode,
)]
pub enum GroupSource {
    Cloud,
    OnPremises,
}

/// `prepaidUnits` of a subscription (SPEC 1.2).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    bincode::Encode,
    bincode::Decode,
)]
pub struct PrepaidUnits {
    pub enabled: u32,
    pub warning: u32,
    pub suspended: u32,
    pub locked_out: u32,
}

impl PrepaidUnits {
    /// Units that may be assigned (R02, R28).
    #[inline]
    pub fn assignable(&self) -> u32 {
        self.enabled.saturating_add(self.warning)
    }
}

/// Plan-runner markers: they change nothing in the tenant; reports and `inspect` use them.
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum Marker {
    /// A plan step starts (index in the scenario's plan, action name).
    Step { step: u32, action: String },
    /// A wave of a user-targeted step starts (1-based wave number).
    WaveStart { step: u32, wave: u32, users: u32 },
    /// A gate was checked.
    Gate {
        step: u32,
        require: String,
        passed: bool,
    },
    /// The plan stopped early (a failed gate or `on_reject = "stop"`).
    PlanStopped { step: u32, reason: String },
    /// The last plan step was issued.
    PlanEnd,
}

/// Input events.
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum Input {
    CreateUser {
        name: String,
        usage_location: Option<Loc>,
        /// Empty: the primary `smtp:<upn>` only.
        proxy_addresses: Vec<String>,
        attributes: Vec<(String, String)>,
    },
    DeleteUser {
        user: UserIdx,
    },
    SetUsageLocation {
        user: UserIdx,
        location: Option<Loc>,
    },
    SetProxyAddresses {
        user: UserIdx,
        addresses: Vec<String>,
    },
    SetAttribute {
        user: UserIdx,
        key: String,
        value: Option<String>,
    },
    CreateGroup {
        name: String,
        security_enabled: bool,
        source: GroupSource,
        /// A dynamic membership rule (R26).
        rule: Option<String>,
        members: Vec<Member>,
        /// Evaluate a dynamic rule at once (scenario setup) instead of after the delay.
        evaluate_now: bool,
    },
    DeleteGroup {
        group: GroupIdx,
    },
    /// Make a group dynamic with this rule, or static again with `None` (R26).
    SetRule {
        group: GroupIdx,
        rule: Option<String>,
    },
    AddMembers {
        group: GroupIdx,
        members: Vec<Member>,
    },
    RemoveMembers {
        group: GroupIdx,
        members: Vec<Member>,
    },
    /// `assignLicense` on a user (R05).
    AssignUserLicense {
        user: UserIdx,
        add: Vec<LicenseSpec>,
        remove: Vec<SkuIdx>,
    },
    /// `assignLicense` on a group (R08).
    AssignGroupLicense {
        group: GroupIdx,
        add: Vec<LicenseSpec>,
        remove: Vec<SkuIdx>,
    },
    Purchase {
        sku: SkuIdx,
        units: i64,
    },
    SetUnits {
        sku: SkuIdx,
        units: PrepaidUnits,
    },
    ReprocessUser {
        user: UserIdx,
    },
    ReprocessGroup {
        group: GroupIdx,
    },
    /// Run a directory sync cycle now (R27); cycles also run on the environment's interval.
    DirectorySync,
    Marker(Marker),
    /// The tenant's baseline begins: until [`Input::BaselineEnd`] the service works with no
    /// delay, latency or concurrency retry, so the baseline is built and processed before the
    /// clock moves (the tenant as it stands before the plan).
    BaselineStart,
    /// The baseline is complete: the scenario's timing applies from here on.
    BaselineEnd,
}

impl Input {
    pub fn kind(&self) -> &'static str {
        match self {
            Input::CreateUser { .. } => "create_user",
            Input::DeleteUser { .. } => "delete_user",
            Input::SetUsageLocation { .. } => "set_usage_location",
            Input::SetProxyAddresses { .. } => "set_proxy_addresses",
            Input::SetAttribute { .. } => "set_attribute",
            Input::CreateGroup { .. } => "create_group",
            Input::DeleteGroup { .. } => "delete_group",
            Input::SetRule { .. } => "set_rule",
            Input::AddMembers { .. } => "add_members",
            Input::RemoveMembers { .. } => "remove_members",
            Input::AssignUserLicense { .. } => "assign_user_license",
            Input::AssignGroupLicense { .. } => "assign_group_license",
            Input::Purchase { .. } => "purchase",
            Input::SetUnits { .. } => "set_units",
            Input::ReprocessUser { .. } => "reprocess_user",
            Input::ReprocessGroup { .. } => "reprocess_group",
            Input::DirectorySync => "directory_sync",
            Input::Marker(_) => "marker",
            Input::BaselineStart => "baseline_start",
            Input::BaselineEnd => "baseline_end",
        }
    }
}

/// The error of a path (SPEC 1.5), Graph's spelling.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode,
)]
pub enum ErrorKind {
    None,
    CountViolation,
    MutuallyExclusiveViolation,
    DependencyViolation,
    ProhibitedInUsageLocationViolation,
    UniquenessViolation,
    Other,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::None,
        ErrorKind::CountViolation,
        ErrorKind::MutuallyExclusiveViolation,
        ErrorKind::DependencyViolation,
        ErrorKind::ProhibitedInUsageLocationViolation,
        ErrorKind::UniquenessViolation,
        ErrorKind::Other,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::None => "None",
            ErrorKind::CountViolation => "CountViolation",
            ErrorKind::MutuallyExclusiveViolation => "MutuallyExclusiveViolation",
            ErrorKind::DependencyViolation => "DependencyViolation",
            ErrorKind::ProhibitedInUsageLocationViolation => "ProhibitedInUsageLocationViolation",
            ErrorKind::UniquenessViolation => "UniquenessViolation",
            ErrorKind::Other => "Other",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of a path (SPEC 1.5).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode,
)]
pub enum PathState {
    Active,
    ActiveWithError,
    Error,
}

impl PathState {
    pub fn as_str(self) -> &'static str {
        match self {
            PathState::Active => "Active",
            PathState::ActiveWithError => "ActiveWithError",
            PathState::Error => "Error",
        }
    }
    /// Whether the path consumes a seat and enables its plans.
    #[inline]
    pub fn applied(self) -> bool {
        !matches!(self, PathState::Error)
    }
}

/// `licenseProcessingState` of a group (R32).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode,
)]
pub enum ProcessingState {
    QueuedForProcessing,
    ProcessingInProgress,
    ProcessingComplete,
}

impl ProcessingState {
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessingState::QueuedForProcessing => "QueuedForProcessing",
            ProcessingState::ProcessingInProgress => "ProcessingInProgress",
            ProcessingState::ProcessingComplete => "ProcessingComplete",
        }
    }
}

/// Where a path comes from (Graph: `assignedByGroup`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode,
)]
pub enum Source {
    Direct,
    Group(GroupIdx),
}

/// Why a call (an input event) was rejected synchronously.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode,
)]
pub enum CallError {
    /// A license rule failed for a direct call (R05, R12-R18).
    License(ErrorKind),
    /// R06: direct add for a user without `usageLocation`.
    InvalidUsageLocation,
    /// R07: removing a SKU the user holds only through groups.
    InheritedLicenseCannotBeRemoved,
    /// Removing a SKU the user (or group) does not hold.
    LicenseNotAssigned,
    /// R08: group-based licensing needs a security-enabled group.
    GroupNotSecurityEnabled,
    /// R15: a group assignment enabling an add-on without its prerequisite in the same group.
    DependentServiceMissing,
    /// R23: a group with licenses cannot be deleted.
    GroupHasLicenses,
    /// R23: a group whose license removal is still being processed cannot be deleted.
    GroupProcessingInProgress,
    /// R26: membership of a dynamic group is managed by its rule.
    DynamicGroupMembership,
    /// The rule does not parse.
    InvalidRule,
    /// R01: a SKU, plan, user or group that does not exist (or was deleted).
    UnknownSku,
    UnknownPlan,
    UnknownUser,
    UnknownGroup,
    /// A user or group name already in use.
    DuplicateName,
    /// A value outside what licsim accepts (units, sizes).
    InvalidValue,
}

impl CallError {
    pub fn as_str(self) -> &'static str {
        match self {
            CallError::License(k) => k.as_str(),
            CallError::InvalidUsageLocation => "InvalidUsageLocation",
            CallError::InheritedLicenseCannotBeRemoved => "InheritedLicenseCannotBeRemoved",
            CallError::LicenseNotAssigned => "LicenseNotAssigned",
            CallError::GroupNotSecurityEnabled => "GroupNotSecurityEnabled",
            CallError::DependentServiceMissing => "DependentServiceMissing",
            CallError::GroupHasLicenses => "GroupHasLicenses",
            CallError::GroupProcessingInProgress => "GroupProcessingInProgress",
            CallError::DynamicGroupMembership => "DynamicGroupMembership",
            CallError::InvalidRule => "InvalidRule",
            CallError::UnknownSku => "UnknownSku",
            CallError::UnknownPlan => "UnknownPlan",
            CallError::UnknownUser => "UnknownUser",
            CallError::UnknownGroup => "UnknownGroup",
            CallError::DuplicateName => "DuplicateName",
            CallError::InvalidValue => "InvalidValue",
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A synchronous rejection: the error, and the SKU and plans involved where known.
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Rejection {
    pub error: CallError,
    pub sku: Option<SkuIdx>,
    pub plans: Vec<PlanIdx>,
}

impl Rejection {
    pub fn new(error: CallError) -> Rejection {
        Rejection {
            error,
            sku: None,
            plans: Vec::new(),
        }
    }
    pub fn with(error: CallError, sku: Option<SkuIdx>, plans: Vec<PlanIdx>) -> Rejection {
        Rejection { error, sku, plans }
    }
}

/// Graph's audit activity names (R29).
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum Audit {
    /// `Change user license`: one user's licenses changed (or failed to), directly or by a group.
    ChangeUserLicense {
        user: UserIdx,
        group: Option<GroupIdx>,
        result: AuditResult,
    },
    /// `Set group license`.
    SetGroupLicense {
        group: GroupIdx,
        result: AuditResult,
    },
    /// `Start applying group based license to users`.
    StartApplying { group: GroupIdx },
    /// `Finish applying group based license to users`.
    FinishApplying {
        group: GroupIdx,
        succeeded: u32,
        failed: u32,
    },
}

impl Audit {
    pub fn activity(&self) -> &'static str {
        match self {
            Audit::ChangeUserLicense { .. } => "Change user license",
            Audit::SetGroupLicense { .. } => "Set group license",
            Audit::StartApplying { .. } => "Start applying group based license to users",
            Audit::FinishApplying { .. } => "Finish applying group based license to users",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum AuditResult {
    Success,
    /// The step left at least one path in error.
    Failure(ErrorKind),
    /// The call was rejected.
    Rejected(CallError),
    /// R25: transient `LicenseAssignmentAttributeConcurrencyException`; retried.
    ConcurrencyException,
}

/// Outcome events.
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum Outcome {
    /// The preceding input was rejected; nothing changed.
    Rejected(Rejection),
    /// A user created (its dense index), or a group.
    UserCreated {
        user: UserIdx,
    },
    GroupCreated {
        group: GroupIdx,
    },
    /// A path was created or changed state.
    PathSet {
        user: UserIdx,
        sku: SkuIdx,
        source: Source,
        state: PathState,
        error: ErrorKind,
    },
    PathRemoved {
        user: UserIdx,
        sku: SkuIdx,
        source: Source,
    },
    /// R23: a path from a deleted group became a direct assignment.
    PathConverted {
        user: UserIdx,
        sku: SkuIdx,
        group: GroupIdx,
    },
    /// `consumedUnits` of a SKU changed.
    Consumed {
        sku: SkuIdx,
        consumed: u32,
    },
    /// A user stopped having any enabled plan of a service family (not on deletion).
    ServiceLost {
        user: UserIdx,
        family: u16,
    },
    ServiceRestored {
        user: UserIdx,
        family: u16,
    },
    /// An effective membership change (static, dynamic or synced).
    Membership {
        group: GroupIdx,
        member: Member,
        added: bool,
    },
    GroupState {
        group: GroupIdx,
        state: ProcessingState,
    },
    Audit(Audit),
    /// R25: a group step was postponed by a concurrency exception.
    ConcurrencyRetry {
        user: UserIdx,
        group: GroupIdx,
    },
    UserDeleted {
        user: UserIdx,
    },
    GroupDeleted {
        group: GroupIdx,
    },
}

/// One event of a run, in order.
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum Event {
    Input(Input),
    Outcome(Outcome),
}

/// An event with the simulated time (ms from the scenario start) at which it happened.
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct TimedEvent {
    pub time_ms: u64,
    pub event: Event,
}
