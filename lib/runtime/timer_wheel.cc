#include "runtime/timer_wheel.h"

#include <algorithm>
#include <bit>
#include <cassert>

namespace dquic {
namespace {

constexpr unsigned kSlotBits = 8;  // 256 slots per level
constexpr unsigned kWordsPerLevel = TimerWheel::kSlots / 64;

}  // namespace

TimerWheel::TimerWheel(const TimerWheelConfig& config, Time start)
    : tick_(config.tick),
      tick_shift_(std::has_single_bit(static_cast<std::uint64_t>(config.tick))
                      ? std::countr_zero(static_cast<std::uint64_t>(config.tick))
                      : -1),
      levels_(config.levels),
      start_(start),
      lists_(new Link[config.levels * kSlots + 2]),
      occupied_(new std::uint64_t[config.levels * kWordsPerLevel]()) {
  assert(config.valid());
  for (std::size_t i = 0; i < levels_ * kSlots + 2; ++i)
    lists_[i].next = lists_[i].prev = &lists_[i];
}

TimerWheel::~TimerWheel() {
  for (std::size_t i = 0; i < levels_ * kSlots + 2; ++i) {
    Link* head = &lists_[i];
    for (Link* l = head->next; l != head;) {
      auto* h = static_cast<TimerHandle*>(l);
      l = l->next;
      h->next = h->prev = nullptr;
      h->wheel_ = nullptr;
      h->deadline_ = kNever;
    }
  }
}

std::uint64_t TimerWheel::floor_tick(Time t) const {
  if (t <= start_) return 0;
  const std::uint64_t diff = static_cast<std::uint64_t>(t) - static_cast<std::uint64_t>(start_);
  return tick_shift_ >= 0 ? diff >> tick_shift_ : diff / static_cast<std::uint64_t>(tick_);
}

std::uint64_t TimerWheel::ceil_tick(Time t) const {
  if (t <= start_) return 0;
  // diff >= 1; (diff - 1) / tick + 1 cannot overflow.
  const std::uint64_t diff = static_cast<std::uint64_t>(t) - static_cast<std::uint64_t>(start_);
  return (tick_shift_ >= 0 ? (diff - 1) >> tick_shift_
                           : (diff - 1) / static_cast<std::uint64_t>(tick_)) +
         1;
}

Time TimerWheel::tick_time(std::uint64_t tick) const {
  const auto t = static_cast<__int128>(start_) + static_cast<__int128>(tick) * tick_;
  return t >= kNever ? kNever : static_cast<Time>(t);
}

Duration TimerWheel::horizon() const {
  const auto h = static_cast<__int128>(tick_) << (kSlotBits * levels_);
  return h >= kNever ? kNever : static_cast<Duration>(h);
}

void TimerWheel::append(std::uint32_t list, TimerHandle& h) {
  Link* head = &lists_[list];
  h.prev = head->prev;
  h.next = head;
  head->prev->next = &h;
  head->prev = &h;
  h.list_ = list;
}

void TimerWheel::link(TimerHandle& h) {
  if (h.tick_ <= cur_) {
    append(ready_list(), h);
    return;
  }
  // The highest byte in which the expiry differs from the current tick picks
  // the level: below it the two agree, so the timer needs no finer slot until
  // the current tick enters this one.
  const unsigned level = (std::bit_width(h.tick_ ^ cur_) - 1) / kSlotBits;
  if (level >= levels_) {
    append(overflow_list(), h);
    overflow_min_ = std::min(overflow_min_, h.tick_);
    return;
  }
  const unsigned slot = static_cast<unsigned>(h.tick_ >> (level * kSlotBits)) & (kSlots - 1);
  append(level * kSlots + slot, h);
  occupied_[level * kWordsPerLevel + slot / 64] |= std::uint64_t{1} << (slot % 64);
}

void TimerWheel::unlink(TimerHandle& h) {
  h.prev->next = h.next;
  h.next->prev = h.prev;
  const std::uint32_t list = h.list_;
  if (list < ready_list() && lists_[list].next == &lists_[list]) {
    occupied_[list / 64] &= ~(std::uint64_t{1} << (list % 64));
  }
}

void TimerWheel::schedule(TimerHandle& h, Time deadline) {
  if (h.wheel_ == this) {
    // Re-arm: the common case on the per-packet path.
    unlink(h);
    if (deadline == kNever) {
      --size_;
      h.wheel_ = nullptr;
      h.deadline_ = kNever;
      return;
    }
  } else {
    if (h.wheel_ != nullptr) h.wheel_->cancel(h);
    if (deadline == kNever) return;
    h.wheel_ = this;
    ++size_;
  }
  h.deadline_ = deadline;
  h.tick_ = ceil_tick(deadline);
  link(h);
}

void TimerWheel::cancel(TimerHandle& h) {
  if (h.wheel_ == nullptr) return;
  if (h.wheel_ != this) {
    h.wheel_->cancel(h);
    return;
  }
  unlink(h);
  --size_;
  h.wheel_ = nullptr;
  h.deadline_ = kNever;
}

int TimerWheel::next_occupied(unsigned level, unsigned from) const {
  const std::uint64_t* words = &occupied_[level * kWordsPerLevel];
  for (unsigned w = from / 64; w < kWordsPerLevel; ++w) {
    std::uint64_t bits = words[w];
    if (w == from / 64) bits &= ~std::uint64_t{0} << (from % 64);
    if (bits != 0) return static_cast<int>(w * 64 + std::countr_zero(bits));
  }
  return -1;
}

bool TimerWheel::next_slot(std::uint64_t* tick, unsigned* level, unsigned* slot) const {
  // Every occupied slot of level k lies ahead of the current tick's byte k
  // (link() and the cascades keep that), so the first occupied slot after it
  // in the lowest level that has one is the next thing to do.
  for (unsigned k = 0; k < levels_; ++k) {
    const unsigned shift = k * kSlotBits;
    const unsigned index = static_cast<unsigned>(cur_ >> shift) & (kSlots - 1);
    if (index == kSlots - 1) continue;
    const int j = next_occupied(k, index + 1);
    if (j < 0) continue;
    const unsigned up = shift + kSlotBits;
    *tick = ((cur_ >> up) << up) | (static_cast<std::uint64_t>(j) << shift);
    *level = k;
    *slot = static_cast<unsigned>(j);
    return true;
  }
  const Link* overflow = &lists_[overflow_list()];
  if (overflow->next == overflow) return false;
  // Overflow timers are re-examined when the current tick starts the
  // top-level revolution of the earliest of them (overflow_min_ may be stale
  // after cancels, but never later than the earliest: at worst an extra
  // re-examination), so that a far jump does not walk every revolution.
  const unsigned top_shift = levels_ * kSlotBits;
  const std::uint64_t top = cur_ >> top_shift;
  if (top == (~std::uint64_t{0} >> top_shift)) return false;  // end of time
  *tick = std::max((top + 1) << top_shift, (overflow_min_ >> top_shift) << top_shift);
  *level = levels_;
  *slot = 0;
  return true;
}

void TimerWheel::cascade(std::uint32_t list) {
  Link* head = &lists_[list];
  Link pending;
  pending.next = head->next;
  pending.prev = head->prev;
  pending.next->prev = &pending;
  pending.prev->next = &pending;
  head->next = head->prev = head;
  if (list < ready_list()) occupied_[list / 64] &= ~(std::uint64_t{1} << (list % 64));
  // In list order, so that timers of one tick keep their scheduling order.
  while (pending.next != &pending) {
    auto* h = static_cast<TimerHandle*>(pending.next);
    pending.next = h->next;
    h->next->prev = &pending;
    link(*h);
  }
}

void TimerWheel::advance(std::uint64_t target) {
  Link* ready = &lists_[ready_list()];
  while (ready->next == ready && cur_ < target) {
    std::uint64_t tick = 0;
    unsigned level = 0, slot = 0;
    if (!next_slot(&tick, &level, &slot) || tick > target) {
      cur_ = target;
      return;
    }
    cur_ = tick;
    if (level == 0) {
      // Every timer of a bottom slot expires at exactly this tick: splice the
      // whole list onto the (empty) ready list.
      Link* head = &lists_[slot];
      ready->next = head->next;
      ready->prev = head->prev;
      ready->next->prev = ready;
      ready->prev->next = ready;
      head->next = head->prev = head;
      for (Link* l = ready->next; l != ready; l = l->next)
        static_cast<TimerHandle*>(l)->list_ = ready_list();
      occupied_[slot / 64] &= ~(std::uint64_t{1} << (slot % 64));
    } else if (level < levels_) {
      cascade(level * kSlots + slot);
    } else {
      overflow_min_ = ~std::uint64_t{0};  // link() recomputes it for those staying
      cascade(overflow_list());
    }
  }
}

TimerHandle* TimerWheel::pop_due(std::uint64_t target) {
  Link* ready = &lists_[ready_list()];
  if (ready->next == ready) {
    if (size_ == 0) {
      if (target > cur_) cur_ = target;
      return nullptr;
    }
    advance(target);
    if (ready->next == ready) return nullptr;
  }
  auto* h = static_cast<TimerHandle*>(ready->next);
  unlink(*h);
  --size_;
  h->wheel_ = nullptr;
  h->deadline_ = kNever;
  return h;
}

std::size_t TimerWheel::poll(Time now, std::span<TimerHandle*> out) {
  const std::uint64_t target = floor_tick(now);
  std::size_t n = 0;
  while (n < out.size()) {
    TimerHandle* h = pop_due(target);
    if (h == nullptr) break;
    out[n++] = h;
  }
  return n;
}

Time TimerWheel::next_event() const {
  if (size_ == 0) return kNever;
  const Link* ready = &lists_[ready_list()];
  if (ready->next != ready) return tick_time(cur_);
  std::uint64_t tick = 0;
  unsigned level = 0, slot = 0;
  return next_slot(&tick, &level, &slot) ? tick_time(tick) : kNever;
}

}  // namespace dquic
