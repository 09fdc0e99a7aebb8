//! The two ends of a connection ([`Side`]) and a value for each of them ([`PerSide`]).
//!
//! Everything kept per direction (a flow's halves, a series' bins, a decoder per direction)
//! is a `PerSide`, indexed by `Side`: there is no position to get wrong and no lookup that
//! can miss, so no code needs a fallback for "the other index".

use std::fmt;
use std::ops::{Index, IndexMut};

/// Which end of a connection: the client (originator) or the server (responder).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Client,
    Server,
}

impl Side {
    /// Both sides, client first (the order [`PerSide::iter`] follows).
    pub const BOTH: [Side; 2] = [Side::Client, Side::Server];

    pub fn peer(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
    /// The word the reports write (the same as [`Side::name`]).
    pub fn code(self) -> &'static str {
        self.name()
    }

    pub fn name(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One `T` for each side of a connection, indexed by [`Side`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PerSide<T> {
    pub client: T,
    pub server: T,
}

impl<T> PerSide<T> {
    pub fn new(client: T, server: T) -> PerSide<T> {
        PerSide { client, server }
    }

    /// A value for each side, made by `f` (client first).
    pub fn from_fn(mut f: impl FnMut(Side) -> T) -> PerSide<T> {
        let client = f(Side::Client);
        PerSide {
            client,
            server: f(Side::Server),
        }
    }

    /// Each side's value through `f` (client first).
    pub fn map<U>(self, mut f: impl FnMut(Side, T) -> U) -> PerSide<U> {
        let client = f(Side::Client, self.client);
        PerSide {
            client,
            server: f(Side::Server, self.server),
        }
    }

    pub fn as_ref(&self) -> PerSide<&T> {
        PerSide {
            client: &self.client,
            server: &self.server,
        }
    }

    /// Both values, client first.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        [&self.client, &self.server].into_iter()
    }

    /// Both values, client first.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        [&mut self.client, &mut self.server].into_iter()
    }

    /// `side`'s value and its peer's, both writable.
    pub fn pair_mut(&mut self, side: Side) -> (&mut T, &mut T) {
        match side {
            Side::Client => (&mut self.client, &mut self.server),
            Side::Server => (&mut self.server, &mut self.client),
        }
    }

    /// Exchanges the two sides' values (when a flow's roles turn out swapped).
    pub fn swap(&mut self) {
        std::mem::swap(&mut self.client, &mut self.server);
    }
}

impl<T> Index<Side> for PerSide<T> {
    type Output = T;
    fn index(&self, side: Side) -> &T {
        match side {
            Side::Client => &self.client,
            Side::Server => &self.server,
        }
    }
}

impl<T> IndexMut<Side> for PerSide<T> {
    fn index_mut(&mut self, side: Side) -> &mut T {
        match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_reads_and_writes_the_named_side() {
        let mut p = PerSide::new(1, 2);
        assert_eq!((p[Side::Client], p[Side::Server]), (1, 2));
        p[Side::Server] += 40;
        assert_eq!(p, PerSide::new(1, 42));
        p[Side::Client] = 7;
        assert_eq!(p.client, 7);
    }

    #[test]
    fn from_fn_and_map_see_each_side_once_client_first() {
        let mut seen = Vec::new();
        let p = PerSide::from_fn(|s| {
            seen.push(s);
            s.name().len() + usize::from(s == Side::Server)
        });
        assert_eq!(seen, Side::BOTH);
        assert_eq!(p, PerSide::new(6, 7));
        let q = p.map(|s, v| format!("{s}:{v}"));
        assert_eq!(q[Side::Server], "server:7");
        assert_eq!(
            q.iter().cloned().collect::<Vec<_>>(),
            ["client:6", "server:7"]
        );
    }

    #[test]
    fn pair_mut_gives_the_side_then_its_peer() {
        let mut p = PerSide::new(vec![1], vec![2]);
        let (mine, peer) = p.pair_mut(Side::Server);
        mine.push(3);
        peer.push(4);
        assert_eq!(p, PerSide::new(vec![1, 4], vec![2, 3]));
        for v in p.iter_mut() {
            v.clear();
        }
        assert!(p.iter().all(Vec::is_empty));
    }

    #[test]
    fn swap_exchanges_the_sides() {
        let mut p = PerSide::new("a", "b");
        p.swap();
        assert_eq!((p[Side::Client], p[Side::Server]), ("b", "a"));
        assert_eq!(p.as_ref().map(|_, s| s.len()), PerSide::new(1, 1));
    }
}
