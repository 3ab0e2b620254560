/*
 * ringvault button box firmware — ATmega328P at 16 MHz (Arduino Uno/Nano class) with a
 * USB-serial chip on UART0. Speaks the line protocol of board/PROTOCOL.md at 115200 8N1.
 *
 * Pins (see board/README.md for the wiring):
 *   PD2, PD3  save buttons for line 1 and 2, to ground (internal pull-ups)
 *   PB0, PB1  LEDs for line 1 and 2 (active high, through 330 ohm)
 *   PB5       status LED (the Nano's on-board LED): blinks while the box is silent
 *   PC0, PC1  loop sense of line 1 and 2 from an opto-coupler, low = off-hook
 *   PC2, PC3  ring sense of line 1 and 2 from an opto-coupler, pulses low while ringing
 *
 * Everything runs from a 1 ms timer tick; the CPU sleeps between ticks. A watchdog resets a
 * hung board, which then says HELLO again.
 */
#include <avr/interrupt.h>
#include <avr/io.h>
#include <avr/sleep.h>
#include <avr/wdt.h>
#include <stdint.h>
#include <string.h>

#define F_OSC 16000000UL
#define BAUD 115200UL
#define LINES 2
#define PROTOCOL_VERSION "1"

#define FW_VERSION "1.0"

#define DEBOUNCE_MS 20
#define LONG_PRESS_DEFAULT_MS 1000
#define SENSE_DEBOUNCE_MS 50
#define RING_ABSENT_MS 6000   /* no ring pulse for this long (bursts are 4 s apart) = ringing over */
#define BOX_SILENT_MS 5000    /* nothing from the box for this long: it is not recording */
#define ACK_MS 150

/* ---- time ---------------------------------------------------------------------------- */
static volatile uint32_t ticks;
ISR(TIMER0_COMPA_vect) { ticks++; }
static uint32_t now(void) {
  uint32_t t;
  uint8_t s = SREG;
  cli();
  t = ticks;
  SREG = s;
  return t;
}

/* ---- UART: interrupt-driven ring buffers ------------------------------------------------- */
#define TXSIZE 128
#define RXLINE 32
static volatile uint8_t tx[TXSIZE];
static volatile uint8_t tx_head, tx_tail;
static char rx[RXLINE];
static uint8_t rx_len, rx_overflow;
static volatile char rx_ready[RXLINE];
static volatile uint8_t rx_ready_flag, rx_too_long;

ISR(USART_UDRE_vect) {
  if (tx_head == tx_tail) {
    UCSR0B &= (uint8_t)~_BV(UDRIE0);
    return;
  }
  UDR0 = tx[tx_tail];
  tx_tail = (uint8_t)((tx_tail + 1) % TXSIZE);
}

ISR(USART_RX_vect) {
  char c = (char)UDR0;
  if (c == '\r') return;
  if (c == '\n') {
    if (rx_overflow) rx_too_long = 1;
    else if (!rx_ready_flag) {
      memcpy((void *)rx_ready, rx, rx_len);
      rx_ready[rx_len] = '\0';
      rx_ready_flag = 1;
    }
    rx_len = 0;
    rx_overflow = 0;
    return;
  }
  if (rx_len < RXLINE - 1) rx[rx_len++] = c;
  else rx_overflow = 1; /* an over-long line is dropped whole, never half-parsed */
}

static void put(const char *s) {
  while (*s) {
    uint8_t next = (uint8_t)((tx_head + 1) % TXSIZE);
    while (next == tx_tail) { /* full: wait for the UDRE interrupt to drain */ }
    tx[tx_head] = (uint8_t)*s++;
    tx_head = next;
    UCSR0B |= _BV(UDRIE0);
  }
}
static void put_line(const char *a, char line_digit, const char *b) {
  put(a);
  if (line_digit) {
    char d[3] = {' ', line_digit, '\0'};
    put(d);
  }
  if (b) {
    put(" ");
    put(b);
  }
  put("\n");
}

/* ---- LEDs ---------------------------------------------------------------------------------- */
enum led_state { LED_IDLE, LED_BUFFERING, LED_KEEPING, LED_PRIVATE, LED_FAULT };
static const char *const led_names[] = {"IDLE", "BUFFERING", "KEEPING", "PRIVATE", "FAULT"};
static uint8_t led_state[LINES] = {LED_FAULT, LED_FAULT}; /* until the box says otherwise */
static uint32_t ack_until[LINES];

/* The pattern of each state over a 2 s cycle, in 125 ms steps (bit set = LED on). */
static const uint16_t led_pattern[] = {
    0x0000, /* idle: off */
    0x0001, /* buffering: on ~100 ms every 2 s */
    0xFFFF, /* keeping: steady on */
    0x0005, /* private: double blip every 2 s */
    0x5555, /* fault: 4 Hz blink */
};

static void led_write(uint8_t line, uint8_t on) {
  if (on) PORTB |= _BV(line);
  else PORTB &= (uint8_t)~_BV(line);
}

static uint8_t box_silent;

static void leds_update(uint32_t t) {
  uint8_t step = (uint8_t)((t / 125) % 16);
  for (uint8_t i = 0; i < LINES; i++) {
    uint8_t on = (uint8_t)((led_pattern[led_state[i]] >> step) & 1);
    if ((int32_t)(ack_until[i] - t) > 0) on = !on; /* the acknowledgement: inverted flash */
    led_write(i, on);
  }
  /* status LED: off while the box talks, blinking 1 Hz while it is silent */
  if (box_silent && (t / 500) % 2) PORTB |= _BV(PB5);
  else PORTB &= (uint8_t)~_BV(PB5);
}

/* ---- inputs ---------------------------------------------------------------------------- */
struct debounced { uint8_t stable, last; uint32_t since; };

static uint8_t settle(struct debounced *d, uint8_t raw, uint32_t t, uint16_t ms) {
  if (raw != d->last) {
    d->last = raw;
    d->since = t;
  } else if (raw != d->stable && t - d->since >= ms) {
    d->stable = raw;
    return 1; /* changed */
  }
  return 0;
}

static struct debounced button[LINES], hook[LINES];
static uint32_t pressed_at[LINES];
static uint8_t long_sent[LINES];
static uint16_t long_ms = LONG_PRESS_DEFAULT_MS;
static uint32_t last_ring_pulse[LINES];
static uint8_t ring_raw_last[LINES];
enum sense { ONHOOK, OFFHOOK, RING };
static const char *const sense_names[] = {"ONHOOK", "OFFHOOK", "RING"};
static uint8_t sense[LINES];

static void sense_set(uint8_t i, uint8_t s) {
  if (sense[i] == s) return;
  sense[i] = s;
  put_line("SENSE", (char)('1' + i), sense_names[s]);
}

static void poll_inputs(uint32_t t) {
  uint8_t pd = PIND, pc = PINC;
  for (uint8_t i = 0; i < LINES; i++) {
    char digit = (char)('1' + i);
    uint8_t down = !(pd & _BV(PD2 + i));
    if (settle(&button[i], down, t, DEBOUNCE_MS)) {
      if (down) {
        pressed_at[i] = t;
        long_sent[i] = 0;
      } else if (!long_sent[i]) {
        put_line("BTN", digit, "SHORT");
      }
    }
    if (button[i].stable && !long_sent[i] && t - pressed_at[i] >= long_ms) {
      long_sent[i] = 1; /* said while still held, so the LED answers before release */
      put_line("BTN", digit, "LONG");
    }
    uint8_t offhook = !(pc & _BV(PC0 + i));
    if (settle(&hook[i], offhook, t, SENSE_DEBOUNCE_MS)) sense_set(i, offhook ? OFFHOOK : ONHOOK);
    /* ring: the opto pulses at the ring frequency; each falling edge is a pulse */
    uint8_t ring_raw = !(pc & _BV(PC2 + i));
    if (ring_raw && !ring_raw_last[i]) {
      last_ring_pulse[i] = t;
      if (sense[i] == ONHOOK) sense_set(i, RING);
    }
    ring_raw_last[i] = ring_raw;
    if (sense[i] == RING && t - last_ring_pulse[i] > RING_ABSENT_MS) sense_set(i, ONHOOK);
  }
}

/* ---- commands from the box --------------------------------------------------------------- */
static uint32_t last_heard;

static void hello(void) {
  put("HELLO ringvault-board " PROTOCOL_VERSION " buttons=2 lines=2 fw=" FW_VERSION "\n");
}

static uint8_t line_arg(const char *c) { /* "<n> " at c: 0-based line, or 0xFF */
  return (c[0] >= '1' && c[0] < '1' + LINES && c[1] == ' ') ? (uint8_t)(c[0] - '1') : 0xFF;
}

static void command(const char *c, uint32_t t) {
  last_heard = t;
  if (strcmp(c, "PING") == 0) {
    put("PONG\n");
  } else if (strncmp(c, "HELLO ringvault-box ", 20) == 0) {
    hello();
    for (uint8_t i = 0; i < LINES; i++) put_line("SENSE", (char)('1' + i), sense_names[sense[i]]);
  } else if (strncmp(c, "LED ", 4) == 0) {
    uint8_t i = line_arg(c + 4);
    if (i == 0xFF) { put("ERR ARG\n"); return; }
    const char *s = c + 6;
    if (strcmp(s, "ACK") == 0) {
      ack_until[i] = t + ACK_MS;
      leds_update(t); /* at once, not at the next tick */
      return;
    }
    for (uint8_t k = 0; k < sizeof led_names / sizeof led_names[0]; k++) {
      if (strcmp(s, led_names[k]) == 0) {
        led_state[i] = k;
        return;
      }
    }
    put("ERR ARG\n");
  } else if (strncmp(c, "LONGMS ", 7) == 0) {
    uint32_t v = 0;
    const char *p = c + 7;
    if (*p < '1' || *p > '9') { put("ERR ARG\n"); return; }
    while (*p >= '0' && *p <= '9' && v <= 10000) v = v * 10 + (uint32_t)(*p++ - '0');
    if (*p || v < 300 || v > 10000) { put("ERR ARG\n"); return; }
    long_ms = (uint16_t)v;
  } else {
    put("ERR UNKNOWN\n");
  }
}

int main(void) {
  MCUSR = 0;
  wdt_enable(WDTO_2S);
  DDRB = _BV(PB0) | _BV(PB1) | _BV(PB5);
  PORTD |= _BV(PD2) | _BV(PD3);                         /* button pull-ups */
  PORTC |= _BV(PC0) | _BV(PC1) | _BV(PC2) | _BV(PC3);   /* opto pull-ups */

  UCSR0A = _BV(U2X0);
  UBRR0 = (uint16_t)(F_OSC / (8 * BAUD) - 1);
  UCSR0B = _BV(RXEN0) | _BV(TXEN0) | _BV(RXCIE0);
  UCSR0C = _BV(UCSZ01) | _BV(UCSZ00);

  TCCR0A = _BV(WGM01);                 /* CTC */
  TCCR0B = _BV(CS01) | _BV(CS00);      /* /64 */
  OCR0A = (uint8_t)(F_OSC / 64 / 1000 - 1);
  TIMSK0 = _BV(OCIE0A);
  set_sleep_mode(SLEEP_MODE_IDLE);
  sei();

  hello();
  uint32_t last_tick = 0;
  for (;;) {
    wdt_reset();
    uint32_t t = now();
    if (rx_too_long) {
      rx_too_long = 0;
      last_heard = t;
      put("ERR LONG\n");
    }
    if (rx_ready_flag) {
      char c[RXLINE];
      memcpy(c, (const void *)rx_ready, RXLINE);
      rx_ready_flag = 0;
      command(c, t);
    }
    if (t != last_tick) {
      last_tick = t;
      poll_inputs(t);
      box_silent = t - last_heard > BOX_SILENT_MS;
      /* A silent box records nothing: every LED says so until the box sends new states. */
      if (box_silent) for (uint8_t i = 0; i < LINES; i++) led_state[i] = LED_FAULT;
      leds_update(t);
    }
    sleep_mode();
  }
}
