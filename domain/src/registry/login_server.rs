//! How a registry's login server is named: `<name>.<suffix>[:<port>]`.

use super::RegistryName;

/// The naming of login servers, fixed for a deployment: a DNS suffix and, when the data
/// plane does not listen on 443, a port. A registry keeps the login server it was created
/// with; a later change of naming applies to new registries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginServerNaming {
    suffix: String,
    port: Option<u16>,
}

impl LoginServerNaming {
    /// A naming of `<name>.<suffix>[:<port>]`.
    ///
    /// # Errors
    /// Why the suffix is not a DNS suffix (labels of letters, digits and `-`), or the port 0.
    pub fn new(suffix: &str, port: Option<u16>) -> Result<Self, String> {
        let suffix = suffix.trim_start_matches('.').to_ascii_lowercase();
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if suffix.is_empty() || suffix.len() > 200 || !suffix.split('.').all(label_ok) {
            return Err(format!("'{suffix}' is not a DNS suffix"));
        }
        if port == Some(0) {
            return Err("the port must be between 1 and 65535".to_owned());
        }
        Ok(Self { suffix, port })
    }

    /// The DNS suffix (`registry.localhost`).
    #[must_use]
    pub fn suffix(&self) -> &str {
        &self.suffix
    }

    /// The port written into login servers, if any.
    #[must_use]
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// What a client appends to a registry's name to reach it: `registry.localhost` or
    /// `registry.localhost:5000` (the cloud's `acrLoginServer` suffix).
    #[must_use]
    pub fn client_suffix(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.suffix),
            None => self.suffix.clone(),
        }
    }

    /// The login server of a registry named `name`.
    #[must_use]
    pub fn login_server(&self, name: &RegistryName) -> String {
        format!("{}.{}", name.key(), self.client_suffix())
    }

    /// The registry name a login server (`host[:port]`, any case) names under this suffix,
    /// whatever its port; the caller compares the whole login server with the registry's.
    #[must_use]
    pub fn registry_name(&self, login_server: &str) -> Option<RegistryName> {
        let lower = login_server.to_ascii_lowercase();
        let host = match lower.rsplit_once(':') {
            Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
                host
            }
            Some(_) => return None,
            None => &lower,
        };
        let name = host.strip_suffix(&self.suffix)?.strip_suffix('.')?;
        RegistryName::parse(name).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Outcome = Result<(), String>;

    fn name(s: &str) -> RegistryName {
        RegistryName::parse(s).unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }

    #[test]
    fn a_login_server_is_the_name_the_suffix_and_the_port_when_one_is_set() -> Outcome {
        let plain = LoginServerNaming::new("Registry.Localhost", None)?;
        assert_eq!(
            plain.login_server(&name("MyReg")),
            "myreg.registry.localhost"
        );
        assert_eq!(plain.client_suffix(), "registry.localhost");
        let ported = LoginServerNaming::new(".registry.localhost", Some(5443))?;
        assert_eq!(
            ported.login_server(&name("myreg")),
            "myreg.registry.localhost:5443"
        );
        assert_eq!(ported.client_suffix(), "registry.localhost:5443");
        Ok(())
    }

    #[test]
    fn a_login_server_is_read_back_to_its_registry_name() -> Outcome {
        let naming = LoginServerNaming::new("registry.localhost", Some(5443))?;
        for host in [
            "myreg.registry.localhost:5443",
            "MYREG.registry.localhost",
            "myreg.registry.localhost:443",
        ] {
            assert_eq!(naming.registry_name(host), Some(name("myreg")), "{host}");
        }
        for host in [
            "myreg.registry.localhost:",
            "myreg.registry.localhost:x",
            "myregregistry.localhost",
            "registry.localhost",
            "myreg.other.localhost:5443",
            "my.reg.registry.localhost",
        ] {
            assert_eq!(naming.registry_name(host), None, "{host}");
        }
        Ok(())
    }

    #[test]
    fn a_bad_suffix_or_port_is_refused() {
        for bad in ["", ".", "a..b", "-a.b", "a b", "a_b.c", "a:5000"] {
            assert!(LoginServerNaming::new(bad, None).is_err(), "{bad}");
        }
        assert!(LoginServerNaming::new("a.b", Some(0)).is_err());
    }
}
