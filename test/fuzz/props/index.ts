// Every property, for bench/fuzz.ts. Each area's test file runs its own slice.
import type { FuzzProperty } from '../property.ts';
import { properties as authority } from './authority.ts';
import { properties as config } from './config.ts';
import { properties as decide } from './decide.ts';
import { properties as headers } from './headers.ts';
import { properties as load } from './load.ts';
import { properties as normalizePath } from './normalize-path.ts';
import { properties as route } from './route.ts';

export const ALL_PROPERTIES: readonly FuzzProperty[] = [...authority, ...normalizePath, ...headers, ...route, ...decide, ...config, ...load];
