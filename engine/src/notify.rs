//! Notifications: the notices transitions write (a task opened, a reminder, an escalation, a
//! reassignment)
//! turned into mails for the officials who may take the task, after the commit.
//!
//! The transition writes a notice in its own transaction, so a notice exists exactly when the
//! step does. Expanding reads the task as it is now (claimed, escalated, or closed: then
//! nobody is mailed) and the tenant's officials with an address who take mail, and writes one
//! mail per official with the notice marked expanded, in one transaction; the outbox's
//! uniqueness (notice, official) keeps two servers expanding the same notice from mailing
//! twice. Sending is the caller's (the `procedo` binary speaks SMTP): it marks each mail sent,
//! or failed with the time of the next try.

use crate::Engine;
use crate::engine::Result;
use crate::model::{Notice, TaskStatus};
use crate::store::Mail;
use uuid::Uuid;

/// Notices expanded per round.
const BATCH: i64 = 100;

fn subject(notice: &Notice) -> String {
    let what = match notice.kind.as_str() {
        "reminder" => "Promemoria",
        "escalated" => "Compito assegnato per scadenza",
        "assigned" => "Compito assegnato",
        "overdue" => "Termine scaduto",
        _ => "Nuovo compito",
    };
    format!("{what}: {}", notice.title)
}

impl Engine {
    /// Turns pending notices into mails; returns how many mails were written.
    pub async fn expand_notices(&self, public_url: &str) -> Result<usize> {
        let notices = self.store.pending_notices(BATCH).await?;
        let mut written = 0;
        let mut officials = std::collections::HashMap::new();
        for notice in notices {
            let task = self.store.task(notice.task).await?;
            let mut mails = Vec::new();
            if let Some(task) = task.filter(|t| t.status == TaskStatus::Open) {
                if !officials.contains_key(&notice.tenant) {
                    let users = self.store.mail_users(&notice.tenant).await?;
                    officials.insert(notice.tenant.clone(), users);
                }
                let users = officials.get(&notice.tenant).map_or(&[][..], Vec::as_slice);
                // A passed term is told to the role the workflow names (`on_breach: { notify:
                // dirigente }`), who follows the case rather than takes the task.
                let overdue = notice.kind == "overdue";
                for (user, roles, address) in users {
                    let told = match (&task.assignee, overdue) {
                        (_, true) => roles.iter().any(|r| r == &notice.role),
                        (Some(assignee), false) => assignee == user,
                        (None, false) => roles.iter().any(|r| r == &task.role),
                    };
                    if !told {
                        continue;
                    }
                    let base = public_url.trim_end_matches('/');
                    let link = if overdue {
                        format!("{base}/instances/{}", task.instance)
                    } else {
                        format!("{base}/tasks/{}", task.id)
                    };
                    let due = task
                        .due_at
                        .map(|d| {
                            format!(
                                "Scadenza: {}\n",
                                d.with_timezone(&chrono_tz::Europe::Rome)
                                    .format("%d/%m/%Y %H:%M")
                            )
                        })
                        .unwrap_or_default();
                    let open = if overdue {
                        "Apri la pratica"
                    } else {
                        "Apri il compito"
                    };
                    let body = format!(
                        "Buongiorno {user},\n\n{}.\n{due}\n{open}: {link}\n\n-- \nProcedo (messaggio automatico: per non ricevere più mail, disattivale nella tua pagina o chiedi all'amministratore)\n",
                        subject(&notice)
                    );
                    mails.push(Mail {
                        id: Uuid::now_v7(),
                        user: user.clone(),
                        address: address.clone(),
                        subject: subject(&notice),
                        body,
                        attempts: 0,
                    });
                }
            }
            written += mails.len();
            self.store
                .expand_notice(notice.id, &mails, self.now())
                .await?;
        }
        Ok(written)
    }

    /// The notices of the caller's tenant about tasks they may take, newest first (the pages).
    pub async fn notices_for(
        &self,
        actor: &crate::model::Actor,
        limit: i64,
    ) -> Result<Vec<Notice>> {
        let notices = self.store.notices_of_tenant(&actor.tenant, limit).await?;
        Ok(notices
            .into_iter()
            .filter(|n| match &n.assignee {
                Some(a) => a == &actor.user,
                None => actor.has_role(&n.role),
            })
            .collect())
    }
}
