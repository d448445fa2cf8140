//! Passwords and robot secrets: argon2id hashes in PHC strings, computed off the async
//! threads, and random secrets.

use argon2::{Argon2, PasswordHash};
use subtle::ConstantTimeEq;

/// argon2id with OWASP's 7 MiB / 5 passes profile (as strong as the 19 MiB / 2 passes
/// default, by their analysis) so that each computation holds less memory.
fn argon2() -> Argon2<'static> {
    let params = argon2::Params::new(7 * 1024, 5, 1, None).unwrap_or_default();
    Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

type ArgonJob = Box<dyn FnOnce() + Send>;

/// argon2 runs on a few dedicated threads: a burst of logins (or a brute-force attempt)
/// queues instead of costing memory without bound, and the allocator's per-thread
/// caches of those multi-megabyte buffers exist on these threads only, which keeps the
/// resident size of an idle server small. More threads than cores buy no throughput.
static ARGON_POOL: std::sync::LazyLock<std::sync::mpsc::SyncSender<ArgonJob>> =
    std::sync::LazyLock::new(|| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<ArgonJob>(4096);
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        // Half the cores: logins queue briefly in a burst, while the rest of the registry keeps
        // serving; each thread keeps its 7 MiB of working memory for reuse.
        let workers = (std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            / 2)
        .clamp(1, 4);
        for i in 0..workers {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => break,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start an argon2 thread");
            }
        }
        tx
    });

/// Runs `f` on the argon2 threads and waits for its result (call from blocking code).
fn on_argon_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    ARGON_POOL
        .send(Box::new(move || {
            let _ = tx.send(f());
        }))
        .ok()?;
    rx.recv().ok()
}

thread_local! {
    /// argon2's working memory, allocated once per argon2 thread and reused: allocating
    /// it afresh for each computation makes the allocator keep one more copy each time.
    static ARGON_BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn argon2_into(
    alg: argon2::Algorithm,
    ver: argon2::Version,
    params: argon2::Params,
    pwd: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    ARGON_BLOCKS.with(|blocks| {
        let mut blocks = blocks.borrow_mut();
        let n = params.block_count();
        if blocks.len() < n {
            blocks.resize(n, argon2::Block::default());
        }
        Argon2::new(alg, ver, params).hash_password_into_with_memory(
            pwd,
            salt,
            out,
            &mut blocks[..n],
        )
    })
}

fn b64(data: &[u8]) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD_NO_PAD, data)
}

/// Hashes a password or secret with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let password = password.to_string();
    on_argon_thread(move || {
        let params = argon2().params().clone();
        let mut salt = [0u8; 16];
        rand::fill(&mut salt);
        let mut out = [0u8; 32];
        argon2_into(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            params.clone(),
            password.as_bytes(),
            &salt,
            &mut out,
        )
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
        Ok(format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            params.m_cost(),
            params.t_cost(),
            params.p_cost(),
            b64(&salt),
            b64(&out)
        ))
    })
    .unwrap_or_else(|| Err(anyhow::anyhow!("argon2 threads are not running")))
}

/// Checks a password against a PHC string (whatever parameters it was made with),
/// comparing in constant time.
pub fn verify_password(phc: &str, password: &str) -> bool {
    let (phc, password) = (phc.to_string(), password.to_string());
    on_argon_thread(move || {
        let Ok(parsed) = PasswordHash::new(&phc) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (parsed.salt.as_ref(), parsed.hash.as_ref()) else {
            return false;
        };
        let Ok(alg) = argon2::Algorithm::try_from(parsed.algorithm.as_str()) else {
            return false;
        };
        let ver = match parsed.version {
            Some(v) => match argon2::Version::try_from(v) {
                Ok(v) => v,
                Err(_) => return false,
            },
            None => argon2::Version::V0x13,
        };
        let Ok(params) = argon2::Params::try_from(&parsed) else {
            return false;
        };
        let expected: &[u8] = expected.as_ref();
        let mut out = vec![0u8; expected.len()];
        if argon2_into(
            alg,
            ver,
            params,
            password.as_bytes(),
            salt.as_ref(),
            &mut out,
        )
        .is_err()
        {
            return false;
        }
        out.ct_eq(expected).into()
    })
    .unwrap_or(false)
}

/// A random printable secret (passwords generated at first start, robot secrets).
pub fn random_secret(len: usize) -> String {
    // 56 symbols without look-alikes (0/O, 1/l/I). Draws are redone until Harbor's
    // password rule (upper, lower, digit) holds, rather than fixing any position.
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    loop {
        // Twice as many draws as needed, so that dropping some rarely leaves too few.
        let mut bytes = vec![0u8; 2 * len + 16];
        rand::fill(&mut bytes[..]);
        // 256 is not a multiple of 56: drop the top draws so every symbol is equally likely.
        let s: String = bytes
            .iter()
            .filter(|b| (**b as usize) < 256 - 256 % ALPHABET.len())
            .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
            .take(len)
            .collect();
        let ok = s.len() == len
            && (len < 3
                || (s.bytes().any(|c| c.is_ascii_uppercase())
                    && s.bytes().any(|c| c.is_ascii_lowercase())
                    && s.bytes().any(|c| c.is_ascii_digit())));
        if ok {
            return s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords() {
        let h = hash_password("Harbor12345").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&h, "Harbor12345"));
        assert!(!verify_password(&h, "harbor12345"));
        assert!(!verify_password("not a hash", "x"));
        // Our PHC strings are standard: argon2's own verifier accepts them, and we accept
        // its hashes made with other parameters.
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let parsed = PasswordHash::new(&h).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"Harbor12345", &parsed)
                .is_ok()
        );
        let theirs = Argon2::default()
            .hash_password(b"s3cret")
            .unwrap()
            .to_string();
        assert!(verify_password(&theirs, "s3cret"));
        assert!(!verify_password(&theirs, "s3cre7"));
        let s = random_secret(20);
        assert_eq!(s.len(), 20);
        assert_ne!(random_secret(20), random_secret(20));
    }
}
