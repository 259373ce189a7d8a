import { properties } from './props/config.ts';
import { testSlice } from './property.ts';

testSlice(properties);
