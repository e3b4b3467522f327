//! Topics: a tree under each program; parents checked, no cycles, deletable when unused.

use uuid::Uuid;

use super::{Store, not_found};
use crate::error::{ApiError, ApiResult};
use crate::model::*;

impl Store {
    fn check_parent(
        p: &Program,
        parent: Option<&str>,
        me: Option<Uuid>,
    ) -> ApiResult<Option<Uuid>> {
        let Some(parent) = parent else {
            return Ok(None);
        };
        let pid = Uuid::try_parse(parent)
            .ok()
            .filter(|u| p.topic(*u).is_some())
            .ok_or_else(|| {
                ApiError::invalid(
                    "parent",
                    format!("No topic with id `{parent}` exists in this program"),
                )
            })?;
        if let Some(me) = me {
            // Walk up from the new parent: meeting `me` would make a cycle.
            let mut cur = Some(pid);
            while let Some(c) = cur {
                if c == me {
                    return Err(ApiError::invalid(
                        "parent",
                        "A topic cannot be placed under itself or one of its subtopics",
                    ));
                }
                cur = p.topic(c).and_then(|t| t.parent);
            }
        }
        Ok(Some(pid))
    }

    pub fn create_topic(
        &mut self,
        program: &str,
        name: &str,
        index: Option<i64>,
        parent: Option<&str>,
    ) -> ApiResult<Topic> {
        let seq = self.next_seq();
        let p = self.program_mut(program)?;
        let parent = Self::check_parent(p, parent, None)?;
        // Without an index the topic goes last among its siblings.
        let index = index.unwrap_or_else(|| {
            p.topics
                .iter()
                .filter(|t| t.parent == parent)
                .map(|t| t.index + 1)
                .max()
                .unwrap_or(0)
        });
        let t = Topic {
            id: Uuid::new_v4(),
            seq,
            name: name.into(),
            index,
            parent,
        };
        p.topics.push(t.clone());
        Ok(t)
    }

    pub fn topic_mut<'a>(p: &'a mut Program, id: &str) -> ApiResult<&'a mut Topic> {
        let uid = Uuid::try_parse(id).map_err(|_| not_found("topic", id))?;
        p.topics
            .iter_mut()
            .find(|t| t.id == uid)
            .ok_or_else(|| not_found("topic", id))
    }

    pub fn set_topic_parent(
        &mut self,
        program: &str,
        topic: &str,
        parent: Option<&str>,
    ) -> ApiResult<Topic> {
        let p = self.program_mut(program)?;
        let me = Self::topic_mut(p, topic)?.id;
        let parent = Self::check_parent(p, parent, Some(me))?;
        let t = Self::topic_mut(p, topic)?;
        t.parent = parent;
        Ok(t.clone())
    }

    /// Deletes a topic. Its metrics lose their topic and its subtopics move to the top level.
    pub fn delete_topic(&mut self, program: &str, topic: &str) -> ApiResult<()> {
        let p = self.program_mut(program)?;
        let id = Self::topic_mut(p, topic)?.id;
        p.topics.retain(|t| t.id != id);
        for t in &mut p.topics {
            if t.parent == Some(id) {
                t.parent = None;
            }
        }
        for m in &mut p.metrics {
            if m.topic == Some(id) {
                m.topic = None;
            }
        }
        Ok(())
    }
}
