//! Answering the dispatcher's questions: on the terminal, by `--yes`, or by
//! a rehearsal scenario. Every answer becomes an `answer` event: who, what,
//! how and when, for the report (an audit of who approved the restart).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::dispatch::Ask;
use super::events::Sink;
use super::{Answer, Answers, prompt};
use crate::model::Step;
use crate::run::event::{self, How, Question, Reply};

/// What came of a question.
pub enum Asked {
    Answer(event::Answer),
    /// A signal arrived at the question: stop asking (the play stops).
    Signal(&'static str),
    /// The terminal's input ended at the question: it was hung up (the
    /// window closed, the SSH session dropped), or Ctrl-D was typed.
    Closed {
        hung_up: bool,
    },
    /// Another engine took the run over while the question was asked: it is
    /// taken off the terminal unanswered; why (who has the run now).
    Lost(String),
}

/// A scenario's answer to a question, in the event's words.
fn scripted(f: &super::ScriptedAnswers, step: &Step, q: Question) -> Reply {
    match (f(step, q), q) {
        (Answer::Yes, Question::Step) => Reply::Continue,
        (Answer::Yes, _) => Reply::Yes,
        (Answer::Skip, _) => Reply::Skip,
        (Answer::No, Question::Step) => Reply::Quit,
        (Answer::No, _) => Reply::No,
    }
}

/// Ask `a` about `step`. On a terminal the question runs on a blocking
/// thread while the play's other events are held back; SIGINT or SIGTERM
/// meanwhile cancel it, and so does `lost` resolving (the run was taken over).
#[allow(clippy::too_many_arguments)]
pub async fn ask(
    a: &Ask,
    step: &Step,
    answers: &Answers,
    sink: &Arc<Sink>,
    by: &str,
    asked: String,
    signals: &mut super::signals::Signals,
    lost: impl std::future::Future<Output = String>,
) -> Asked {
    let answer = |reply, how| {
        Asked::Answer(event::Answer {
            step: Some(step.id.clone()),
            question: a.question,
            reply,
            how,
            by: by.to_string(),
            asked: asked.clone(),
            confirm: a.confirm.clone(),
            run: None,
            var: None,
        })
    };
    match answers {
        Answers::Yes => {
            let yes = a.choices.iter().map(|&(_, r)| r).find(|r| matches!(r, Reply::Yes | Reply::Continue));
            answer(yes.unwrap_or(Reply::Yes), How::Yes)
        }
        Answers::Scripted(f) => answer(scripted(f, step, a.question), How::Scenario),
        // The dispatcher does not ask a play that cannot answer.
        Answers::Refuse | Answers::Interactive => {
            let cancel = Arc::new(AtomicBool::new(false));
            let (text, choices, c2, sink) = (a.text.clone(), a.choices, cancel.clone(), sink.clone());
            let keys: Vec<char> = choices.iter().map(|&(k, _)| k).collect();
            let mut h = tokio::task::spawn_blocking(move || sink.prompt(|| prompt::choose(&text, &keys, None, &c2)));
            let got = tokio::select! {
                r = &mut h => Ok(r.ok().flatten()),
                why = signals.recv() => Err(Asked::Signal(why)),
                why = lost => Err(Asked::Lost(why)),
            };
            match got {
                Ok(Some(k)) => {
                    let reply = choices.iter().find(|&&(c, _)| c == k).map_or(Reply::No, |&(_, r)| r);
                    answer(reply, How::Prompt)
                }
                // The input ended: nobody answered, so nothing is recorded
                // as an answer (docs/decisions.md, "End of input at a question").
                Ok(None) => Asked::Closed { hung_up: !prompt::terminal() },
                Err(stop) => {
                    cancel.store(true, Ordering::SeqCst);
                    let _ = h.await;
                    stop
                }
            }
        }
    }
}
