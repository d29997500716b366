//! Errors of the attack suite, with stable codes in the style of the other tools: the range
//! `05xxxxxx` (the runtime has `01`, the administrator side `02`, the service `03`, device
//! fingerprints `04`).

/// Why an attack could not run (never whether it succeeded: that is the report's business).
#[derive(Debug)]
pub enum Error {
    /// A command-line usage error (`05000001`, exit 2).
    Usage(String),
    /// The generator failed to make the key file (`05000002`).
    Generate(wbgen::Error),
    /// The runtime refused the generated key file (`05000003`).
    KeyFile(wbruntime::Error),
    /// The generated key file does not decrypt like the reference cipher (`05000004`).
    WrongDecryption,
    /// The lookup traces do not have the fixed shape the format implies (`05000005`).
    Trace(String),
    /// The report could not be written (`05000006`).
    Output(String),
    /// An external attack tool (the BGE tool) is not set up or failed (`05000007`).
    Tool(String),
}

impl Error {
    /// The stable eight-digit code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Usage(_) => "05000001",
            Error::Generate(_) => "05000002",
            Error::KeyFile(_) => "05000003",
            Error::WrongDecryption => "05000004",
            Error::Trace(_) => "05000005",
            Error::Output(_) => "05000006",
            Error::Tool(_) => "05000007",
        }
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Usage(m) => write!(f, "{m}"),
            Error::Generate(e) => write!(f, "key file generation failed: {e}"),
            Error::KeyFile(e) => write!(f, "the runtime refused the key file: {e}"),
            Error::WrongDecryption => {
                f.write_str("the key file does not decrypt like the reference cipher")
            }
            Error::Trace(m) => write!(f, "unexpected lookup trace: {m}"),
            Error::Output(m) => write!(f, "cannot write the report: {m}"),
            Error::Tool(m) => write!(f, "external attack tool: {m}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<wbgen::Error> for Error {
    fn from(e: wbgen::Error) -> Self {
        Error::Generate(e)
    }
}

impl From<wbruntime::Error> for Error {
    fn from(e: wbruntime::Error) -> Self {
        Error::KeyFile(e)
    }
}
