//! The front end's errors: every one names the Dockerfile, the line (when there is one) and
//! the problem, e.g. `Dockerfile:7: unknown instruction: RUNN (did you mean RUN?)`.

use super::print::go_quote;

/// A Dockerfile that cannot be read, parsed, or turned into stages.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {kind}", file, line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ParseError {
    /// The Dockerfile as the user named it.
    pub file: String,
    /// The 1-based line the problem starts on, if it has one.
    pub line: Option<usize>,
    /// What is wrong.
    pub kind: Box<ErrorKind>,
}

/// ` (did you mean X?)` when there is a close match, else nothing.
fn did_you_mean(s: &Option<String>) -> String {
    s.as_ref()
        .map(|m| format!(" (did you mean {m}?)"))
        .unwrap_or_default()
}

/// What is wrong with a Dockerfile.
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    /// The file could not be read.
    #[error("cannot read the dockerfile: {0}")]
    Read(#[source] std::io::Error),
    /// Nothing but blank lines, comments and directives.
    #[error("file with no instructions")]
    NoInstructions,
    /// `# escape=` with something other than `\` or `` ` ``.
    #[error("invalid escape token '{0}' does not match ` or \\")]
    InvalidEscape(String),
    /// A parser directive given twice.
    #[error("only one {0} parser directive can be used")]
    DuplicateDirective(String),
    /// An instruction name docker does not know.
    #[error("unknown instruction: {name}{}", did_you_mean(suggestion))]
    UnknownInstruction {
        /// The name as written.
        name: String,
        /// A known instruction within a small edit distance.
        suggestion: Option<String>,
    },
    /// A JSON array holding something other than strings.
    #[error("when using JSON array syntax, arrays must be comprised of strings only")]
    NotStringArray,
    /// `ENV name` or `LABEL name` with no value.
    #[error("{0} must have two arguments")]
    NeedsTwoArguments(&'static str),
    /// `ENV a=1 b` mixes the two forms.
    #[error("syntax error - can't find = in {}. must be of the form: name=value", go_quote(.0))]
    MissingEquals(String),
    /// A heredoc whose terminator never comes.
    #[error("unterminated heredoc")]
    UnterminatedHeredoc,
    /// A heredoc word that cannot be lexed.
    #[error("{0}")]
    HeredocWord(#[source] ExpandError),
    /// A flag the instruction does not have.
    #[error("unknown flag: --{flag}{}", did_you_mean(suggestion))]
    UnknownFlag {
        /// The flag name without dashes.
        flag: String,
        /// A flag of the instruction within a small edit distance.
        suggestion: Option<String>,
    },
    /// A single-valued flag given twice.
    #[error("duplicate flag specified: --{0}")]
    DuplicateFlag(String),
    /// `--flag` without `=value` where a value is needed, or `--flag=` for a bool.
    #[error("missing a value on flag: --{0}")]
    FlagNeedsValue(String),
    /// A bool flag with a value other than true or false.
    #[error("expecting boolean value for flag --{flag}, not: {value}")]
    FlagNotBool {
        /// The flag.
        flag: String,
        /// Its value.
        value: String,
    },
    /// Too few arguments.
    #[error("{0} requires at least one argument")]
    AtLeastOneArgument(&'static str),
    /// Not exactly one argument.
    #[error("{0} requires exactly one argument")]
    ExactlyOneArgument(&'static str),
    /// COPY or ADD with a single argument.
    #[error("{0} requires at least two arguments, but only one was provided. destination could not be determined")]
    NoDestination(&'static str),
    /// COPY or ADD with a heredoc as its destination.
    #[error("{0} cannot accept a heredoc as a destination")]
    HeredocDestination(&'static str),
    /// `ENV =x`, `ARG =x`.
    #[error("{0} names can not be blank")]
    BlankName(&'static str),
    /// `FROM a b`, `FROM a AS`.
    #[error("FROM requires either one or three arguments")]
    FromArguments,
    /// `FROM x AS 1bad`.
    #[error("invalid name for build stage: {}, name can't start with a number or contain symbols", go_quote(.0))]
    InvalidStageName(String),
    /// Two stages with the same name.
    #[error("duplicate stage name {}", go_quote(.0))]
    DuplicateStageName(String),
    /// `ONBUILD ONBUILD …`.
    #[error("chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")]
    OnbuildChain,
    /// `ONBUILD FROM …`, `ONBUILD MAINTAINER …`.
    #[error("{0} isn't allowed as an ONBUILD trigger")]
    OnbuildTrigger(String),
    /// `HEALTHCHECK NONE x`.
    #[error("HEALTHCHECK NONE takes no arguments")]
    HealthcheckNoneArguments,
    /// `HEALTHCHECK CMD` alone.
    #[error("missing command after HEALTHCHECK CMD")]
    HealthcheckMissingCommand,
    /// `HEALTHCHECK CONNECT …`.
    #[error("unknown type {} in HEALTHCHECK (try CMD)", go_quote(.0))]
    HealthcheckType(String),
    /// A duration flag that is not a duration.
    #[error("invalid duration {value:?} for --{flag}")]
    Duration {
        /// The flag.
        flag: String,
        /// Its value.
        value: String,
    },
    /// A duration below a millisecond.
    #[error("interval --{0} cannot be less than 1ms")]
    DurationTooShort(String),
    /// `--retries` that is not a non-negative number.
    #[error("invalid value for --retries: {0}")]
    Retries(String),
    /// `VOLUME ""`.
    #[error("VOLUME specified can not be an empty string")]
    EmptyVolume,
    /// `SHELL` in shell form or empty.
    #[error("SHELL requires the arguments to be in JSON form")]
    ShellNotJson,
    /// `RUN --network=x`.
    #[error("invalid network mode {}", go_quote(.0))]
    Network(String),
    /// `RUN --security=x`.
    #[error("security {} is not valid", go_quote(.0))]
    Security(String),
    /// A `RUN --mount` spec that is wrong.
    #[error("{0}")]
    Mount(#[from] MountError),
    /// An instruction other than ARG before the first FROM.
    #[error("no build stage in current context")]
    NoStage,
    /// Only ARGs, no FROM.
    #[error("dockerfile contains no stages to build")]
    NoStages,
    /// A word whose variables cannot be expanded.
    #[error("{0}")]
    Expand(#[from] ExpandError),
    /// A FROM whose image name expands to nothing.
    #[error("base name ({0}) should not be blank")]
    BlankBaseName(String),
    /// A FROM platform that expands to nothing.
    #[error("empty platform value from expression {0}")]
    BlankPlatform(String),
    /// `COPY --from=$X`.
    #[error("variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround")]
    FromVariable,
    /// `COPY --from=7` with fewer stages.
    #[error("invalid stage index {0}")]
    StageIndex(usize),
    /// `--target x` naming no stage.
    #[error(
        "target stage {} could not be found{}",
        go_quote(name),
        did_you_mean(suggestion)
    )]
    TargetNotFound {
        /// The name given.
        name: String,
        /// A stage name within a small edit distance.
        suggestion: Option<String>,
    },
    /// Stages that depend on each other.
    #[error("circular dependency detected on stage: {0}")]
    StageCycle(String),
}

/// A word whose quotes or variables cannot be processed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to process {}: {kind}", go_quote(word))]
pub struct ExpandError {
    /// The word as written.
    pub word: String,
    /// What went wrong.
    pub kind: ExpandErrorKind,
}

/// What went wrong while expanding a word.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandErrorKind {
    /// `${X` with no closing brace.
    #[error("syntax error: missing '}}'")]
    MissingBrace,
    /// `${}`, `${:x}`, `${{x}`.
    #[error("syntax error: bad substitution")]
    BadSubstitution,
    /// `${X:=y}` and other modifiers docker does not have.
    #[error("unsupported modifier ({0}) in substitution")]
    UnsupportedModifier(String),
    /// A quote that is never closed.
    #[error("unexpected end of statement while looking for matching {0}")]
    Unterminated(&'static str),
    /// `${X?msg}` with X unset, `${X:?msg}` with X unset or empty.
    #[error("{name}: {message}")]
    Required {
        /// The variable.
        name: String,
        /// The word after `?`, or docker's default message.
        message: String,
    },
    /// `${X/a}` with no second slash.
    #[error("syntax error: missing '/' in ${{}}")]
    MissingSlash,
    /// Substitutions nested deeper than [`super::expand::MAX_NESTING`].
    #[error(
        "syntax error: substitutions nested more than {} deep",
        super::expand::MAX_NESTING
    )]
    TooDeep,
    /// A `#`, `%` or `/` pattern with a bad escape.
    #[error("invalid pattern ({pattern}) in substitution: invalid escape '\\{escaped}'")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// The character after the backslash (empty at the end).
        escaped: String,
    },
}

/// A `RUN --mount=…` spec that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MountError {
    /// Broken CSV quoting.
    #[error("failed to parse csv mounts: {0}")]
    Csv(String),
    /// `type=foo`.
    #[error(
        "unsupported mount type {}{}",
        go_quote(value),
        did_you_mean(suggestion)
    )]
    Type {
        /// The value.
        value: String,
        /// A close mount type.
        suggestion: Option<String>,
    },
    /// `sharing=foo`.
    #[error(
        "unsupported sharing value {}{}",
        go_quote(value),
        did_you_mean(suggestion)
    )]
    Sharing {
        /// The value.
        value: String,
        /// A close sharing mode.
        suggestion: Option<String>,
    },
    /// A key that needs a value given alone.
    #[error("invalid field '{0}' must be a key=value pair")]
    NeedsValue(String),
    /// A key this mount type does not take.
    #[error("unexpected key '{key}' for mount type '{kind}'")]
    KeyForType {
        /// The key.
        key: String,
        /// The mount type.
        kind: String,
    },
    /// A key no mount has.
    #[error("unexpected key '{key}' in '{field}'{}", did_you_mean(suggestion))]
    UnknownKey {
        /// The key.
        key: String,
        /// The whole field.
        field: String,
        /// A close key.
        suggestion: Option<String>,
    },
    /// A value of the wrong form.
    #[error("invalid value for {key}: {value}")]
    Value {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// `mode`, `uid` or `gid` on a bind or tmpfs mount.
    #[error("{key} not allowed for {} type mounts", go_quote(kind))]
    FileInfo {
        /// The key.
        key: &'static str,
        /// The mount type.
        kind: String,
    },
    /// `from=$X`.
    #[error("'from' doesn't support variable expansion, define alias stage instead")]
    FromVariable,
    /// A secret mount with `from`.
    #[error("secret mount should not have a from")]
    SecretFrom,
    /// A secret mount with `sharing`.
    #[error("secret mount should not define sharing")]
    SecretSharing,
    /// A secret mount with neither id, source nor target.
    #[error("invalid secret mount. one of source, target required")]
    SecretTarget,
    /// A secret mount with both `source` and `id`.
    #[error("both source and id can't be set")]
    SecretSourceAndId,
    /// `sharing` on a mount that is not a cache.
    #[error("invalid cache sharing set for {0} mount")]
    SharingNotCache(String),
    /// A word in the spec whose variables cannot be expanded.
    #[error("{0}")]
    Expand(#[from] ExpandError),
}
