// Shared pieces of the three tokenizers: the greedy pair-merge loop of BPE, byte-piece parsing,
// and the factories load_tokenizer() dispatches to.
#pragma once
#include <cstdint>
#include <memory>
#include <queue>
#include <string>
#include <string_view>
#include <vector>

#include "binq/tokenizer/tokenizer.h"

namespace binq {

// Greedy BPE over `ids`: repeatedly merges the adjacent pair with the smallest priority (ties:
// the leftmost pair) until no adjacent pair merges. `lookup(left, right, &priority, &merged)`
// says whether a pair merges. llama2.c and SentencePiece use -score(merged piece) as priority,
// Hugging Face the merge's rank; both pick "best pair, leftmost on ties", which a heap with lazy
// invalidation reproduces in O(n log n) instead of llama2.c's O(n^2) rescans.
template <typename Lookup>
void bpe_merge(std::vector<int>& ids, Lookup&& lookup) {
  const int n = static_cast<int>(ids.size());
  if (n < 2) return;
  struct Sym {
    int id, prev, next;
  };
  std::vector<Sym> s(n);
  for (int i = 0; i < n; ++i) s[i] = {ids[i], i - 1, i + 1 < n ? i + 1 : -1};
  struct Cand {
    double priority;
    int left, right, left_id, right_id, merged;
    bool operator>(const Cand& o) const {
      return priority != o.priority ? priority > o.priority : left > o.left;
    }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  auto consider = [&](int l) {
    if (l < 0) return;
    int r = s[l].next;
    if (r < 0) return;
    double pr;
    int merged;
    if (lookup(s[l].id, s[r].id, &pr, &merged)) heap.push({pr, l, r, s[l].id, s[r].id, merged});
  };
  for (int i = 0; i + 1 < n; ++i) consider(i);
  while (!heap.empty()) {
    Cand c = heap.top();
    heap.pop();
    // Stale if either side merged since: then the pair is no longer these two ids side by side.
    if (s[c.left].id != c.left_id || s[c.left].next != c.right || s[c.right].id != c.right_id) continue;
    s[c.left].id = c.merged;
    int after = s[c.right].next;
    s[c.left].next = after;
    if (after >= 0) s[after].prev = c.left;
    s[c.right].id = -1;  // dead: no candidate can match id -1
    consider(s[c.left].prev);
    consider(c.left);
  }
  ids.clear();
  for (int i = 0; i >= 0; i = s[i].next) ids.push_back(s[i].id);
}

// "<0xAB>" -> 0xAB (SentencePiece byte pieces); -1 for anything else.
int parse_byte_piece(std::string_view piece);

// Replaces every U+2581 (SentencePiece's visible space "▁") with ' '.
std::string sp_unescape(std::string_view piece);

std::unique_ptr<Tokenizer> load_llama2c_tokenizer(const std::string& path, int vocab_size);
std::unique_ptr<Tokenizer> load_sentencepiece_tokenizer(const std::string& path, int vocab_size);
std::unique_ptr<Tokenizer> load_hf_tokenizer(const std::string& path, int vocab_size);

}  // namespace binq
