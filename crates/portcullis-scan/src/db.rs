//! The OSV database of `portcullis-vulndb` as the scanner's advisory source.

use portcullis_vulndb::{Finding, PackageQuery, SharedVulnDb, VulnDb};

use crate::error::ScanError;
use crate::matching::{Advisories, Advisory, CvssScore};

fn advisory(f: Finding) -> Advisory {
    Advisory {
        id: f.id,
        aliases: f.aliases,
        summary: f.summary,
        description: f.description,
        fixed_version: f.fixed_version,
        severity: f.severity,
        cvss: f.cvss.map(|c| CvssScore {
            version: c.version,
            vector: c.vector,
            score: c.score,
        }),
        cwe_ids: f.cwe_ids,
        links: f.links,
    }
}

fn rfc3339(t: time::OffsetDateTime) -> Option<String> {
    t.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

impl Advisories for VulnDb {
    fn advisories(
        &self,
        ecosystem: &str,
        name: &str,
        version: &str,
    ) -> Result<Vec<Advisory>, ScanError> {
        let q = PackageQuery {
            ecosystem,
            name,
            version,
        };
        let found = self
            .query(&q)
            .map_err(|e| ScanError::Database(e.to_string()))?;
        Ok(found.into_iter().map(advisory).collect())
    }

    fn covers(&self, ecosystem: &str) -> Option<bool> {
        // Distribution feeds may qualify the ecosystem further ("Red Hat:enterprise_linux:9").
        Some(self.metadata().counts.iter().any(|(k, n)| {
            *n > 0
                && (k == ecosystem
                    || k.strip_prefix(ecosystem)
                        .is_some_and(|r| r.starts_with(':')))
        }))
    }

    fn updated_at(&self) -> Option<String> {
        rfc3339(self.metadata().updated_at)
    }
}

impl Advisories for SharedVulnDb {
    fn advisories(
        &self,
        ecosystem: &str,
        name: &str,
        version: &str,
    ) -> Result<Vec<Advisory>, ScanError> {
        self.current().advisories(ecosystem, name, version)
    }

    fn covers(&self, ecosystem: &str) -> Option<bool> {
        self.current().covers(ecosystem)
    }

    fn updated_at(&self) -> Option<String> {
        self.current().updated_at()
    }
}
