#ifndef MODELDECK_CNCURSES_SHIM_H
#define MODELDECK_CNCURSES_SHIM_H
// Wide-character API (cchar_t, add_wch, …) needs this before curses.h.
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#include <locale.h>
#include <ncursesw/curses.h>

// Swift 6 strict concurrency rejects ncurses' mutable globals (LINES, COLS, stdscr):
// read them through functions instead.
static inline WINDOW *md_stdscr(void) { return stdscr; }
static inline int md_lines(void) { return getmaxy(stdscr); }
static inline int md_cols(void) { return getmaxx(stdscr); }
static inline int md_colors(void) { return COLORS; }
static inline int md_color_pairs(void) { return COLOR_PAIRS; }
static inline chtype md_attr_bold(void) { return A_BOLD; }
static inline chtype md_attr_reverse(void) { return A_REVERSE; }
static inline chtype md_attr_underline(void) { return A_UNDERLINE; }
static inline chtype md_attr_dim(void) { return A_DIM; }
static inline chtype md_color_pair(int n) { return COLOR_PAIR(n); }
static inline int md_key_resize(void) { return KEY_RESIZE; }
static inline int md_set_locale(void) { return setlocale(LC_ALL, "") != NULL; }
#endif
