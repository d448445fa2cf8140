//! Harbor's `/statistics`: how many projects and repositories the caller can see,
//! public and private, and (for system admins) the storage all projects use.

use portcullis_meta::{ProjectQuery, QuotaQuery};

use super::Projects;
use crate::context::RequestCtx;
use crate::error::Result;

/// Harbor's `Statistic`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Statistic {
    pub private_project_count: u64,
    pub private_repo_count: u64,
    pub public_project_count: u64,
    pub public_repo_count: u64,
    pub total_project_count: u64,
    pub total_repo_count: u64,
    /// Bytes; shown to system admins only, as Harbor does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_storage_consumption: Option<i64>,
}

const PAGE: u64 = 500;

impl Projects {
    pub async fn statistics(&self, ctx: &RequestCtx) -> Result<Statistic> {
        let mut st = Statistic::default();
        for page in 1.. {
            let (list, total) = self
                .list_projects(ctx, ProjectQuery::default(), page, PAGE)
                .await?;
            for p in &list {
                if p.public {
                    st.public_project_count += 1;
                    st.public_repo_count += p.repo_count;
                } else {
                    st.private_project_count += 1;
                    st.private_repo_count += p.repo_count;
                }
            }
            if list.is_empty() || page * PAGE >= total {
                break;
            }
        }
        st.total_project_count = st.public_project_count + st.private_project_count;
        st.total_repo_count = st.public_repo_count + st.private_repo_count;
        if ctx.principal.is_sysadmin() {
            let mut used = 0i64;
            for page in 1.. {
                let (quotas, total) = self
                    .meta
                    .quotas()
                    .list_quotas(&QuotaQuery::default(), page, PAGE)
                    .await?;
                used += quotas.iter().map(|q| q.used.max(0)).sum::<i64>();
                if quotas.is_empty() || page * PAGE >= total {
                    break;
                }
            }
            st.total_storage_consumption = Some(used);
        }
        Ok(st)
    }
}
